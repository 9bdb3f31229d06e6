import ArgumentParser
import Engine
import Foundation

/// `tandem replay APP --input EVENTS.jsonl`: run an app in playback and print its output as JSON lines.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run a Siddhi app in playback over JSON-lines input; print every inserted event as a JSON line.")

    @Argument(help: "The Siddhi app (.siddhi).")
    var app: String

    @Option(name: .long, help: "Input events, one JSON object per line ({\"stream\":…,\"timestamp\":…,\"data\":[…]} or {\"timestamp\":…}).")
    var input: String

    @Option(name: .customLong("snapshot-at"), help: "After input line N, snapshot the state (needs --restore).")
    var snapshotAt: Int?

    @Flag(name: .long, help: "With --snapshot-at: restore the snapshot into a fresh runtime and continue from it.")
    var restore = false

    func validate() throws {
        if (snapshotAt != nil) != restore { throw ValidationError("--snapshot-at and --restore go together") }
        if let n = snapshotAt, n < 1 { throw ValidationError("--snapshot-at must be ≥ 1") }
    }

    func run() throws {
        let compiled: SiddhiApp
        do {
            compiled = try SiddhiApp.compile(source: try String(contentsOfFile: app, encoding: .utf8), fileName: app)
        } catch let errors as SiddhiCompileErrors {
            FileHandle.standardError.write(Data((errors.description + "\n").utf8))
            throw ExitCode(1)
        }
        // Replay has no deployment datasources: @store tables run in memory, starting empty.
        for table in compiled.storedTables {
            FileHandle.standardError.write(Data("\(app):\(table.position): warning: table '\(table.name)' has @store(type='\(table.type)'); replay keeps it in memory, starting empty, and writes no database\n".utf8))
        }
        let text: String
        do { text = try String(contentsOfFile: input, encoding: .utf8) } catch {
            FileHandle.standardError.write(Data("\(input): cannot read: \(error.localizedDescription)\n".utf8))
            throw ExitCode(1)
        }
        let out = OutputBuffer()
        do {
            try Replay.run(app: compiled, lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init),
                           snapshotAfterLine: snapshotAt) {
                out.write($0)
            }
            out.flush()
        } catch {
            out.flush()
            FileHandle.standardError.write(Data("\(input): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Buffers stdout lines and writes them in large chunks.
final class OutputBuffer {
    private var buffer: [UInt8] = []

    func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
