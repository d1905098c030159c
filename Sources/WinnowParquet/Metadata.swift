/// The parts of Parquet's Thrift structs (parquet.thrift) that reading and writing flat columns needs. Field ids
/// are the format's; fields not listed are skipped on read.

/// A node of the schema tree, flattened depth-first (`SchemaElement`).
struct SchemaElement {
    var type: Int32?
    var typeLength: Int32?
    var repetition: Int32?
    var name = ""
    var numChildren: Int32?
    var convertedType: Int32?
    /// The field id of the set member of the `LogicalType` union (1: STRING, 12: JSON...).
    var logicalType: Int16?

    static func read(_ r: inout CompactReader) throws(ParquetError) -> SchemaElement {
        var e = SchemaElement()
        try r.readStruct { (r, id, kind) throws(ParquetError) in
            switch id {
            case 1:
                try r.expect(.i32, kind, "SchemaElement.type")
                e.type = try r.i32()
            case 2:
                try r.expect(.i32, kind, "SchemaElement.type_length")
                e.typeLength = try r.i32()
            case 3:
                try r.expect(.i32, kind, "SchemaElement.repetition_type")
                e.repetition = try r.i32()
            case 4:
                try r.expect(.binary, kind, "SchemaElement.name")
                e.name = try r.string()
            case 5:
                try r.expect(.i32, kind, "SchemaElement.num_children")
                e.numChildren = try r.i32()
            case 6:
                try r.expect(.i32, kind, "SchemaElement.converted_type")
                e.convertedType = try r.i32()
            case 10:
                try r.expect(.structure, kind, "SchemaElement.logicalType")
                try r.readStruct { (r, member, kind) throws(ParquetError) in
                    e.logicalType = member
                    return false
                }
            default: return false
            }
            return true
        }
        return e
    }
}

/// `ColumnMetaData`.
struct ColumnMeta {
    var type: Int32 = 0
    var encodings: [Int32] = []
    var path: [String] = []
    var codec: Int32 = 0
    var numValues: Int64 = 0
    var totalUncompressedSize: Int64 = 0
    var totalCompressedSize: Int64 = 0
    var dataPageOffset: Int64 = 0
    var dictionaryPageOffset: Int64?

    static func read(_ r: inout CompactReader) throws(ParquetError) -> ColumnMeta {
        var m = ColumnMeta()
        try r.readStruct { (r, id, kind) throws(ParquetError) in
            switch id {
            case 1:
                try r.expect(.i32, kind, "ColumnMetaData.type")
                m.type = try r.i32()
            case 2:
                try r.expect(.list, kind, "ColumnMetaData.encodings")
                m.encodings = try r.list(of: .i32) { (r) throws(ParquetError) in try r.i32() }
            case 3:
                try r.expect(.list, kind, "ColumnMetaData.path_in_schema")
                m.path = try r.list(of: .binary) { (r) throws(ParquetError) in try r.string() }
            case 4:
                try r.expect(.i32, kind, "ColumnMetaData.codec")
                m.codec = try r.i32()
            case 5:
                try r.expect(.i64, kind, "ColumnMetaData.num_values")
                m.numValues = try r.i64()
            case 6:
                try r.expect(.i64, kind, "ColumnMetaData.total_uncompressed_size")
                m.totalUncompressedSize = try r.i64()
            case 7:
                try r.expect(.i64, kind, "ColumnMetaData.total_compressed_size")
                m.totalCompressedSize = try r.i64()
            case 9:
                try r.expect(.i64, kind, "ColumnMetaData.data_page_offset")
                m.dataPageOffset = try r.i64()
            case 11:
                try r.expect(.i64, kind, "ColumnMetaData.dictionary_page_offset")
                m.dictionaryPageOffset = try r.i64()
            default: return false
            }
            return true
        }
        return m
    }
}

/// `RowGroup`, with the `ColumnChunk`s' metadata (chunks whose data is in another file are refused).
struct RowGroupMeta {
    var columns: [ColumnMeta] = []
    var numRows: Int64 = 0

    static func read(_ r: inout CompactReader) throws(ParquetError) -> RowGroupMeta {
        var g = RowGroupMeta()
        try r.readStruct { (r, id, kind) throws(ParquetError) in
            switch id {
            case 1:
                try r.expect(.list, kind, "RowGroup.columns")
                g.columns = try r.list(of: .structure) { (r) throws(ParquetError) in
                    var meta: ColumnMeta?
                    try r.readStruct { (r, id, kind) throws(ParquetError) in
                        switch id {
                        case 1:
                            throw ParquetError(.unsupported, "a column chunk is stored in another file")
                        case 3:
                            try r.expect(.structure, kind, "ColumnChunk.meta_data")
                            meta = try ColumnMeta.read(&r)
                            return true
                        default: return false
                        }
                    }
                    guard let meta else { throw r.error("a column chunk without its metadata") }
                    return meta
                }
            case 3:
                try r.expect(.i64, kind, "RowGroup.num_rows")
                g.numRows = try r.i64()
            default: return false
            }
            return true
        }
        return g
    }
}

/// `FileMetaData`.
struct FileMeta {
    var schema: [SchemaElement] = []
    var numRows: Int64 = 0
    var rowGroups: [RowGroupMeta] = []
    var createdBy: String?

    static func read(_ r: inout CompactReader) throws(ParquetError) -> FileMeta {
        var f = FileMeta()
        try r.readStruct { (r, id, kind) throws(ParquetError) in
            switch id {
            case 2:
                try r.expect(.list, kind, "FileMetaData.schema")
                f.schema = try r.list(of: .structure) { (r) throws(ParquetError) in try SchemaElement.read(&r) }
            case 3:
                try r.expect(.i64, kind, "FileMetaData.num_rows")
                f.numRows = try r.i64()
            case 4:
                try r.expect(.list, kind, "FileMetaData.row_groups")
                f.rowGroups = try r.list(of: .structure) { (r) throws(ParquetError) in try RowGroupMeta.read(&r) }
            case 6:
                try r.expect(.binary, kind, "FileMetaData.created_by")
                f.createdBy = try r.string()
            default: return false
            }
            return true
        }
        return f
    }
}

/// `PageHeader` with the header of its kind.
struct PageHeader {
    enum Kind: Int32 { case data = 0, index = 1, dictionary = 2, dataV2 = 3 }
    var type: Int32 = -1
    var uncompressedSize: Int32 = 0
    var compressedSize: Int32 = 0
    var numValues: Int32 = 0
    var encoding: Int32 = 0
    /// v1: the encoding of the definition levels.
    var definitionLevelEncoding: Int32 = 3
    /// v2: nulls and rows in the page, and the byte lengths of the (uncompressed) levels.
    var numNulls: Int32 = 0
    var definitionLevelsLength: Int32 = 0
    var repetitionLevelsLength: Int32 = 0
    var isCompressed = true

    static func read(_ r: inout CompactReader) throws(ParquetError) -> PageHeader {
        var h = PageHeader()
        try r.readStruct { (r, id, kind) throws(ParquetError) in
            switch id {
            case 1:
                try r.expect(.i32, kind, "PageHeader.type")
                h.type = try r.i32()
            case 2:
                try r.expect(.i32, kind, "PageHeader.uncompressed_page_size")
                h.uncompressedSize = try r.i32()
            case 3:
                try r.expect(.i32, kind, "PageHeader.compressed_page_size")
                h.compressedSize = try r.i32()
            case 5:
                try r.expect(.structure, kind, "PageHeader.data_page_header")
                try r.readStruct { (r, id, kind) throws(ParquetError) in
                    switch id {
                    case 1:
                        try r.expect(.i32, kind, "DataPageHeader.num_values")
                        h.numValues = try r.i32()
                    case 2:
                        try r.expect(.i32, kind, "DataPageHeader.encoding")
                        h.encoding = try r.i32()
                    case 3:
                        try r.expect(.i32, kind, "DataPageHeader.definition_level_encoding")
                        h.definitionLevelEncoding = try r.i32()
                    default: return false
                    }
                    return true
                }
            case 7:
                try r.expect(.structure, kind, "PageHeader.dictionary_page_header")
                try r.readStruct { (r, id, kind) throws(ParquetError) in
                    switch id {
                    case 1:
                        try r.expect(.i32, kind, "DictionaryPageHeader.num_values")
                        h.numValues = try r.i32()
                    case 2:
                        try r.expect(.i32, kind, "DictionaryPageHeader.encoding")
                        h.encoding = try r.i32()
                    default: return false
                    }
                    return true
                }
            case 8:
                try r.expect(.structure, kind, "PageHeader.data_page_header_v2")
                try r.readStruct { (r, id, kind) throws(ParquetError) in
                    switch id {
                    case 1:
                        try r.expect(.i32, kind, "DataPageHeaderV2.num_values")
                        h.numValues = try r.i32()
                    case 2:
                        try r.expect(.i32, kind, "DataPageHeaderV2.num_nulls")
                        h.numNulls = try r.i32()
                    case 4:
                        try r.expect(.i32, kind, "DataPageHeaderV2.encoding")
                        h.encoding = try r.i32()
                    case 5:
                        try r.expect(.i32, kind, "DataPageHeaderV2.definition_levels_byte_length")
                        h.definitionLevelsLength = try r.i32()
                    case 6:
                        try r.expect(.i32, kind, "DataPageHeaderV2.repetition_levels_byte_length")
                        h.repetitionLevelsLength = try r.i32()
                    case 7:
                        try r.expect(.boolTrue, kind, "DataPageHeaderV2.is_compressed")
                        h.isCompressed = kind == CompactReader.Kind.boolTrue.rawValue
                    default: return false
                    }
                    return true
                }
            default: return false
            }
            return true
        }
        return h
    }
}

/// Names of the format's enums, for messages.
enum Names {
    static func encoding(_ e: Int32) -> String {
        switch e {
        case 0: "PLAIN"
        case 2: "PLAIN_DICTIONARY"
        case 3: "RLE"
        case 4: "BIT_PACKED"
        case 5: "DELTA_BINARY_PACKED"
        case 6: "DELTA_LENGTH_BYTE_ARRAY"
        case 7: "DELTA_BYTE_ARRAY"
        case 8: "RLE_DICTIONARY"
        case 9: "BYTE_STREAM_SPLIT"
        default: "encoding \(e)"
        }
    }

    static func codec(_ c: Int32) -> String {
        switch c {
        case 0: "UNCOMPRESSED"
        case 1: "SNAPPY"
        case 2: "GZIP"
        case 3: "LZO"
        case 4: "BROTLI"
        case 5: "LZ4"
        case 6: "ZSTD"
        case 7: "LZ4_RAW"
        default: "codec \(c)"
        }
    }
}
