import ArgumentParser
import Engine
import Foundation

/// `tandem validate APP.siddhi…`: compile apps and print every error as `file:line:column: error: …`.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check Siddhi apps and report every error with its line and column.")

    @Argument(help: "Siddhi app files (.siddhi).")
    var files: [String]

    func run() throws {
        var failed = false
        for file in files {
            do {
                let source = try String(contentsOfFile: file, encoding: .utf8)
                let app = try SiddhiApp.compile(source: source, fileName: file)
                print("\(file): ok (app '\(app.name)', \(app.streams.count) streams, \(app.queryNames.count) queries)")
            } catch let errors as SiddhiCompileErrors {
                failed = true
                FileHandle.standardError.write(Data((errors.description + "\n").utf8))
            } catch {
                failed = true
                FileHandle.standardError.write(Data("\(file): error: cannot read: \(error.localizedDescription)\n".utf8))
            }
        }
        if failed { throw ExitCode(1) }
    }
}
