import WinnowCore
import WinnowImage

/// What a sample-web image shows: `count` shapes of one kind and colour on a background.
public struct Scene: Sendable, Equatable {
    /// `circle`, `square`, `triangle` or `diamond`.
    public var shape: String
    /// Colour name of the shapes.
    public var colour: String
    /// Number of shapes, 1 to 4.
    public var count: Int
    /// Colour name of the background.
    public var background: String

    /// Shape names.
    public static let shapes = ["circle", "square", "triangle", "diamond"]
    /// Colour names and their RGB values.
    public static let colours: [(String, (UInt8, UInt8, UInt8))] = [
        ("red", (220, 30, 30)), ("green", (30, 170, 60)), ("blue", (30, 70, 220)), ("yellow", (245, 220, 30)),
        ("orange", (245, 140, 20)), ("purple", (140, 50, 170)), ("black", (15, 15, 15)), ("white", (250, 250, 250)),
    ]
    static let numberWords = ["one", "two", "three", "four"]

    /// A random scene whose shape colour differs from its background.
    public static func random(_ rng: inout SplitMix64) -> Scene {
        let shape = shapes[rng.int(shapes.count)]
        let c = rng.int(colours.count)
        var b = rng.int(colours.count)
        while b == c { b = rng.int(colours.count) }
        return Scene(shape: shape, colour: colours[c].0, count: 1 + rng.int(4), background: colours[b].0)
    }

    /// A caption that describes the scene, in one of several phrasings.
    public func caption(_ rng: inout SplitMix64) -> String {
        let n = Scene.numberWords[count - 1]
        let noun = count == 1 ? shape : shape + "s"
        switch rng.int(4) {
        case 0: return "\(n) \(colour) \(noun) on a \(background) background"
        case 1: return "a picture of \(n) \(colour) \(noun) on \(background)"
        case 2: return "\(n.capitalized) \(colour) \(noun) against a \(background) background"
        default: return "\(colour) \(noun), \(n) in total, \(background) backdrop"
        }
    }

    /// Draws the scene at `width` x `height`: a lightly textured background and the shapes in a row, anti-aliased.
    public func draw(width: Int, height: Int, rng: inout SplitMix64) -> RGBImage {
        let fg = Scene.colours.first { $0.0 == colour }!.1  // ok: colours come from the table
        let bg = Scene.colours.first { $0.0 == background }!.1  // ok: colours come from the table
        var image = RGBImage(width: width, height: height, fill: bg)
        // Texture, so that the JPEG looks photographic and is not a few hundred bytes.
        for i in 0..<(width * height) {
            let noise = Int(rng.next() % 13) - 6
            for c in 0..<3 {
                image.pixels[3 * i + c] = UInt8(max(0, min(255, Int(image.pixels[3 * i + c]) + noise)))
            }
        }
        let cell = Double(width) / Double(count)
        let size = min(cell, Double(height)) * (0.55 + Double(rng.int(20)) / 100)
        for k in 0..<count {
            let cx = cell * (Double(k) + 0.5)
            let cy = Double(height) / 2 + (Double(rng.int(21)) - 10) / 100 * Double(height)
            let r = size / 2
            let x0 = max(0, Int(cx - r) - 1)
            let x1 = min(width - 1, Int(cx + r) + 1)
            let y0 = max(0, Int(cy - r) - 1)
            let y1 = min(height - 1, Int(cy + r) + 1)
            guard x0 <= x1 && y0 <= y1 else { continue }
            for y in y0...y1 {
                for x in x0...x1 {
                    // 4x4 supersampling for smooth edges.
                    var hits = 0
                    for sy in 0..<4 {
                        for sx in 0..<4 {
                            let px = (Double(x) + (Double(sx) + 0.5) / 4 - cx) / r
                            let py = (Double(y) + (Double(sy) + 0.5) / 4 - cy) / r
                            if inside(px, py) { hits += 1 }
                        }
                    }
                    if hits == 0 { continue }
                    let a = Double(hits) / 16
                    let i = (y * width + x) * 3
                    let rgb = [fg.0, fg.1, fg.2]
                    for c in 0..<3 {
                        image.pixels[i + c] = UInt8(
                            (Double(rgb[c]) * a + Double(image.pixels[i + c]) * (1 - a)).rounded())
                    }
                }
            }
        }
        return image
    }

    /// Whether the point (x, y), in units of the shape's half size around its centre, is inside the shape.
    func inside(_ x: Double, _ y: Double) -> Bool {
        switch shape {
        case "circle": return x * x + y * y <= 1
        case "square": return abs(x) <= 0.85 && abs(y) <= 0.85
        case "diamond": return abs(x) + abs(y) <= 1
        default:
            // Upward triangle with its base at y = 0.8 and apex at y = -0.9.
            guard y >= -0.9 && y <= 0.8 else { return false }
            return abs(x) <= (y + 0.9) / 1.7
        }
    }
}
