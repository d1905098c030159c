extension PDQ {
    /// `image` without a uniform border (a frame, letterbox or padding bars of one colour on any side), or nil when
    /// it has none worth removing. PDQ hashes the whole frame, so the same picture with and without a border hashes
    /// far apart (measured on the near-duplicate benchmark: no bordered copy within 31 bits); dedup hashes the
    /// content inside the border as well.
    ///
    /// A row (or column) belongs to the border while at least 98 % of its pixels are within 24 levels (every
    /// channel) of the side's edge colour; trimming happens only when the border takes at least 2 % of the width
    /// or height and leaves at least half of each.
    public static func borderTrimmed(_ image: RGBImage) -> RGBImage? {
        guard let inner = borderWindow(image) else { return nil }
        return Resizer.crop(image, x: inner.x, y: inner.y, width: inner.width, height: inner.height)
    }

    /// Where `borderTrimmed` would cut, without copying: the content inside the border, or nil.
    public static func borderWindow(_ image: RGBImage) -> Resizer.Window? {
        let w = image.width
        let h = image.height
        guard w >= 16, h >= 16 else { return nil }
        return image.pixels.withUnsafeBufferPointer { p -> Resizer.Window? in
            func pixel(_ x: Int, _ y: Int) -> (Int, Int, Int) {
                let i = (y * w + x) * 3
                return (Int(p[i]), Int(p[i + 1]), Int(p[i + 2]))
            }
            func close(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Bool {
                abs(a.0 - b.0) <= 24 && abs(a.1 - b.1) <= 24 && abs(a.2 - b.2) <= 24
            }
            /// How many lines from one side are border: `line(k, i)` is pixel i of the k-th line from that side.
            func depth(lines: Int, length: Int, _ at: (Int, Int) -> (Int, Int, Int)) -> Int {
                let reference = at(0, length / 2)
                let allowed = length / 50
                for k in 0..<lines {
                    var off = 0
                    for i in 0..<length where !close(at(k, i), reference) {
                        off += 1
                        if off > allowed { return k }
                    }
                }
                return lines
            }
            let top = depth(lines: h / 2, length: w) { k, i in pixel(i, k) }
            let bottom = depth(lines: h / 2, length: w) { k, i in pixel(i, h - 1 - k) }
            let left = depth(lines: w / 2, length: h) { k, i in pixel(k, i) }
            let right = depth(lines: w / 2, length: h) { k, i in pixel(w - 1 - k, i) }
            let newW = w - left - right
            let newH = h - top - bottom
            guard (left + right) * 50 >= w || (top + bottom) * 50 >= h, newW * 2 >= w, newH * 2 >= h else {
                return nil
            }
            return Resizer.Window(x: left, y: top, width: newW, height: newH)
        }
    }
}
