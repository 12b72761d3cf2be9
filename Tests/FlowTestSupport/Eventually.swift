import Testing

/// Polls `condition` until it holds or `timeout` passes (then the test fails with `message`).
public func eventually(
    timeout: Duration = .seconds(20), _ message: @autoclosure () -> String = "condition never held",
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record(Comment(rawValue: message()), sourceLocation: sourceLocation)
    throw CancellationError()
}
