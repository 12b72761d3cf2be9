import Synchronization

/// A thread-safe boolean that only ever goes from false to true.
public final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)

    public init() {}

    public func set() { value.store(true, ordering: .releasing) }
    public var isSet: Bool { value.load(ordering: .acquiring) }
}

/// Runs `body`, failing with `failure` if it has not finished after `timeout`; the body is
/// cancelled then. For calls that have no timeout of their own (readiness probes).
public func withDeadline<T: Sendable>(
    _ timeout: Duration, failure: @autoclosure @escaping @Sendable () -> any Error,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw failure()
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}
