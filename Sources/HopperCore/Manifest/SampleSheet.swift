// SampleSheet — the rows of a group (`foreach: {samplesheet: …}`): CSV or TSV with a header
// row, or an Illumina `SampleSheet.csv`, whose `[BCLConvert_Data]` (v2) or `[Data]` (v1)
// section is the table.
//
// Every row keeps the line it came from, so that a problem in it is reported as
// `SampleSheet.csv:14: row S07: …`. Blank lines are skipped; trailing empty fields (Illumina
// pads rows with commas) are dropped; a quoted CSV field may hold commas and `""`, not a newline.

/// One row: the line it is on (1-based) and its values by column.
public struct SheetRow: Sendable, Equatable {
    public var line: Int
    public var values: [String: String]
    public init(line: Int, values: [String: String]) { self.line = line; self.values = values }
}

/// A sheet's columns (header order) and rows.
public struct SheetTable: Sendable, Equatable {
    public var columns: [String]
    public var rows: [SheetRow]
    public init(columns: [String], rows: [SheetRow]) { self.columns = columns; self.rows = rows }
}

public enum SampleSheet {
    /// The sections whose table is the samples, in the order they are looked for.
    static let dataSections = ["[bclconvert_data]", "[data]"]

    /// Parses `bytes` (a file named `fileName`, whose extension chooses the separator: `.tsv`
    /// and `.tab` are tab-separated, `.csv` comma-separated, others by their header line).
    public static func parse(_ bytes: [UInt8], fileName: String) -> Result<SheetTable, ManifestError> {
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        if text.contains("\u{FFFD}") || bytes.contains(0) {
            return fail(fileName, nil, "the sheet is not UTF-8 text")
        }
        // "\r\n" is one Character in Swift: split on both.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map { line -> Substring in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
        var start = 0
        var end = lines.count
        let firstUsed = lines.firstIndex { !isBlank($0) }
        if let firstUsed, lines[firstUsed].hasPrefix("[") {
            // An Illumina sheet: the table is one section.
            let names = lines.enumerated().compactMap { (i, l) -> (Int, String)? in
                l.hasPrefix("[") ? (i, sectionName(l)) : nil
            }
            guard let found = dataSections.lazy.compactMap({ want in names.first { $0.1 == want } }).first else {
                return fail(fileName, nil, "an Illumina sample sheet needs a [BCLConvert_Data] or [Data] section; this one has " + names.map { "[\($0.1.dropFirst().dropLast())]" }.joined(separator: ", "))
            }
            start = found.0 + 1
            end = names.first { $0.0 > found.0 }?.0 ?? lines.count
        }
        let lower = fileName.lowercased()
        var separator: Character = ","
        if lower.hasSuffix(".tsv") || lower.hasSuffix(".tab") {
            separator = "\t"
        } else if !lower.hasSuffix(".csv"), let h = lines[start..<end].first(where: { !isBlank($0) }), h.contains("\t") {
            separator = "\t"
        }
        var columns: [String]?
        var rows: [SheetRow] = []
        var diagnostics: [Diagnostic] = []
        for i in start..<end where !isBlank(lines[i]) {
            let lineNo = i + 1
            guard let fields = split(lines[i], separator) else {
                diagnostics.append(Diagnostic(line: lineNo, message: "a quoted field is not closed on its line"))
                continue
            }
            var trimmed = fields
            while let last = trimmed.last, last.isEmpty { trimmed.removeLast() }
            guard let header = columns else {
                let names = trimmed.map { $0.trimmingSpaces }
                if let problem = headerProblem(names) {
                    return fail(fileName, lineNo, problem)
                }
                columns = names
                continue
            }
            if trimmed.count > header.count {
                diagnostics.append(Diagnostic(line: lineNo, message: "the row has \(trimmed.count) fields; the header has \(header.count) columns"))
                continue
            }
            var values: [String: String] = [:]
            for (name, value) in zip(header, trimmed) { values[name] = value.trimmingSpaces }
            rows.append(SheetRow(line: lineNo, values: values))
            if diagnostics.count > Checker.maxDiagnostics { break }
        }
        guard let columns else { return fail(fileName, nil, "the sheet has no header row") }
        if !diagnostics.isEmpty {
            return .failure(ManifestError(file: fileName, diagnostics: diagnostics.map { d in
                var d = d
                d.file = fileName
                return d
            }))
        }
        return .success(SheetTable(columns: columns, rows: rows))
    }

    static func fail(_ file: String, _ line: Int?, _ message: String) -> Result<SheetTable, ManifestError> {
        .failure(ManifestError(file: file, diagnostics: [Diagnostic(line: line, message: message, file: file)]))
    }

    static func isBlank(_ line: Substring) -> Bool {
        line.allSatisfy { $0 == "," || $0 == "\t" || $0 == " " }
    }

    static func sectionName(_ line: Substring) -> String {
        let head = line.prefix { $0 != "," && $0 != "\t" }
        return head.trimmingSpaces.lowercased()
    }

    static func headerProblem(_ names: [String]) -> String? {
        var seen = Set<String>()
        for (i, name) in names.enumerated() {
            if name.isEmpty { return "column \(i + 1) of the header has no name" }
            if !seen.insert(name).inserted { return "the header names column \(quoted(name)) twice" }
        }
        return names.isEmpty ? "the header row is empty" : nil
    }

    /// The fields of one line; nil when a quote is not closed.
    static func split(_ line: Substring, _ separator: Character) -> [String]? {
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var wasQuoted = false
        var i = line.startIndex
        while i < line.endIndex {
            let ch = line[i]
            if inQuotes {
                if ch == "\"" {
                    let next = line.index(after: i)
                    if next < line.endIndex && line[next] == "\"" {
                        field.append("\"")
                        i = next
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(ch)
                }
            } else if ch == separator {
                fields.append(field)
                field = ""
                wasQuoted = false
            } else if ch == "\"" && field.trimmingSpaces.isEmpty && !wasQuoted && separator == "," {
                field = ""
                inQuotes = true
                wasQuoted = true
            } else {
                field.append(ch)
            }
            i = line.index(after: i)
        }
        if inQuotes { return nil }
        fields.append(field)
        return fields
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
