// Temporary: replaced by Results/ResultPublisher.swift.
import HopperCore
public struct PublishReport: Sendable { public var files: [ResultFile] = []; public var warnings: [String] = []; public var unmatched: [String] = [] }
public struct ResultPublisher {
    public init(workspace: String, results: String) {}
    public func publish(patterns: [String]) throws -> PublishReport { PublishReport() }
    public func writeChecksums(_ all: [ResultFile]) throws {}
}
