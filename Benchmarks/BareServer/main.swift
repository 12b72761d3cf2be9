// The benchmark ceiling: a bare Hummingbird server with one route and no middleware, built with
// the same compiler settings as `flow`. `scripts/bench` runs it beside `flow` in the same run so
// Flow's figures can be read as a fraction of what the framework alone does on this machine.
import Foundation
import Hummingbird

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 8090
let router = Router()
router.get("/health") { _, _ in
    #"{"status":"ok"}"#
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
do {
    try await app.runService()
} catch {
    // A port already in use, most often: say so instead of trapping on the uncaught error.
    FileHandle.standardError.write(Data("flow-bench-bare: \(error)\n".utf8))
    exit(1)
}
