// SnakemakeProgress — reads what Snakemake prints while it runs and turns it into progress.
//
// Snakemake (7 to 9) prints, on stderr, for each job it starts
//     rule align:            (or `localrule align:`, or `checkpoint …:`)
// and, after each one finishes,
//     3 of 11 steps (27%) done
// The parser is fed the step's log as it grows (any chunking; partial lines are kept) and
// keeps the latest counts and the rule last started: `detail` reads "rule align (4 of 11)".

public struct SnakemakeProgress: Sendable, Equatable {
    public private(set) var done = 0
    public private(set) var total = 0
    public private(set) var lastRule: String?
    private var partial: [UInt8] = []

    public init() {}

    /// The step's own progress (0…1), once Snakemake has said how many steps there are.
    public var fraction: Double? { total > 0 ? min(1, Double(done) / Double(total)) : nil }

    /// "rule align (4 of 11)": the rule last started and the step it is; nil before the first.
    public var detail: String? {
        guard let rule = lastRule else { return total > 0 ? "\(done) of \(total) steps done" : nil }
        if total > 0 { return "rule \(rule) (\(min(done + 1, total)) of \(total))" }
        return "rule \(rule)"
    }

    /// Feeds bytes of the log; returns whether anything changed.
    @discardableResult
    public mutating func consume(_ bytes: some Sequence<UInt8>) -> Bool {
        let before = (done, total, lastRule)
        for b in bytes {
            if b == 0x0A {
                line(partial)
                partial.removeAll(keepingCapacity: true)
            } else if partial.count < 4096 {
                partial.append(b)
            }
        }
        return before != (done, total, lastRule)
    }

    mutating func line(_ bytes: [UInt8]) {
        var text = Substring(String(decoding: bytes, as: UTF8.self))
        while text.last == "\r" || text.last == " " { text.removeLast() }
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        // "3 of 11 steps (27%) done"
        if text.hasSuffix("done"), let ofRange = text.range(of: " of "), let stepsRange = text.range(of: " steps (") {
            if let n = Int(text[..<ofRange.lowerBound]), let m = Int(text[ofRange.upperBound..<stepsRange.lowerBound]), m > 0 {
                done = n
                total = m
            }
            return
        }
        // "rule align:", "localrule all:", "checkpoint split:"
        for prefix in ["rule ", "localrule ", "checkpoint ", "localcheckpoint "] where text.hasPrefix(prefix) && text.hasSuffix(":") {
            let name = text.dropFirst(prefix.count).dropLast()
            if !name.isEmpty && !name.contains(" ") { lastRule = String(name) }
            return
        }
    }
}
