import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// Delivers notifications posted on named channels to the streams listening in this process.
/// On SQLite this is the whole mechanism (one process owns the file); on PostgreSQL the
/// listener connection feeds it from `LISTEN`, so notifications from every process arrive.
final class NotificationHub: Sendable {
    private struct State {
        var listeners: [String: [UInt64: AsyncStream<DatabaseNotification>.Continuation]] = [:]
        var nextID: UInt64 = 0
        var closed = false
        /// Opened (and replaced) when a channel gets its first listener, so the PostgreSQL
        /// listener re-LISTENs.
        var channelsChanged = Gate()
    }

    private let state = Mutex(State())

    func stream(_ channel: String, bufferingNewest limit: Int) -> AsyncStream<DatabaseNotification> {
        let (stream, continuation) = AsyncStream.makeStream(of: DatabaseNotification.self, bufferingPolicy: .bufferingNewest(limit))
        let (id, changed, closed) = state.withLock { state -> (UInt64, Gate?, Bool) in
            if state.closed { return (0, nil, true) }
            state.nextID += 1
            let isNewChannel = state.listeners[channel] == nil
            state.listeners[channel, default: [:]][state.nextID] = continuation
            guard isNewChannel else { return (state.nextID, nil, false) }
            defer { state.channelsChanged = Gate() }
            return (state.nextID, state.channelsChanged, false)
        }
        if closed {
            continuation.finish()
            return stream
        }
        changed?.open()
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { state in
                state.listeners[channel]?[id] = nil
                if state.listeners[channel]?.isEmpty == true { state.listeners[channel] = nil }
            }
        }
        return stream
    }

    func post(_ channel: String, _ payload: String) {
        deliver(.posted(payload), on: channel)
    }

    /// Tells `channel`'s streams that the PostgreSQL listener now listens on it, again or for
    /// the first time: what was posted before may not have reached them.
    func listening(_ channel: String) {
        deliver(.listening, on: channel)
    }

    private func deliver(_ notification: DatabaseNotification, on channel: String) {
        let continuations = state.withLock { Array(($0.listeners[channel] ?? [:]).values) }
        for continuation in continuations { continuation.yield(notification) }
    }

    /// The channels with listeners, and a gate that opens when that set grows.
    var channels: (names: Set<String>, changed: Gate) {
        state.withLock { (Set($0.listeners.keys), $0.channelsChanged) }
    }

    func close() {
        let (continuations, changed) = state.withLock { state in
            state.closed = true
            defer { state.listeners.removeAll() }
            return (state.listeners.values.flatMap(\.values), state.channelsChanged)
        }
        continuations.forEach { $0.finish() }
        changed.open()
    }
}

/// Keeps one dedicated PostgreSQL connection `LISTEN`ing on every channel the hub has
/// listeners for, reconnecting with backoff when the server goes away. It does not use the
/// pool: a listening connection is held for the life of the process.
struct PostgresNotificationListener: Sendable {
    let endpoint: PostgresEndpoint
    let hub: NotificationHub
    let logger: Logger

    func run() async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await listenUntilChannelsChange()
                delay = .milliseconds(100)
            } catch {
                // Shutdown closes the connection on purpose; that is not worth a warning.
                if Task.isCancelled || error is CancellationError { return }
                logger.warning("notification listener lost its connection; reconnecting", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// Listens on the current channels until the set grows (then returns, to listen again).
    private func listenUntilChannelsChange() async throws {
        let (channels, changed) = hub.channels
        if channels.isEmpty {
            await changed.wait()
            return
        }
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(), configuration: try endpoint.connectionConfiguration(),
            id: Int.random(in: 1...Int(Int32.max)), logger: logger)
        do {
            // Closing the connection is what ends the notification sequences when the task is
            // cancelled (shutdown); they do not end by themselves.
            try await withTaskCancellationHandler {
                try await listen(on: connection, to: channels, until: changed)
            } onCancel: {
                _ = connection.close() as EventLoopFuture<Void>
            }
            try? await (connection.close() as EventLoopFuture<Void>).get()
        } catch {
            try? await (connection.close() as EventLoopFuture<Void>).get()
            throw error
        }
    }

    private func listen(on connection: PostgresConnection, to channels: Set<String>, until changed: Gate) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for channel in channels {
                group.addTask {
                    try await connection.listen(on: channel) { notifications in
                        // LISTEN has taken effect: from here nothing posted is missed.
                        hub.listening(channel)
                        for try await notification in notifications {
                            hub.post(channel, notification.payload)
                        }
                    }
                    throw DatabaseError(.unavailable, message: "the notification stream of \(channel) ended")
                }
            }
            group.addTask { await changed.wait() }
            // The first task to finish is a change of channels (return and listen again) or a
            // lost connection (a listen task throws, and run() reconnects).
            try await group.next()
            group.cancelAll()
        }
    }
}

/// What a ``Database/notifications(_:bufferingNewest:)`` stream carries.
public enum DatabaseNotification: Sendable, Equatable {
    /// A payload posted with ``Database/notify(_:payload:in:)``.
    case posted(String)
    /// PostgreSQL only: the listener has just started listening (the first time, or again after
    /// losing its connection). Anything posted before may have been missed.
    case listening
}
