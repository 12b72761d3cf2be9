import Foundation

/// A named set of workers that together see every event of the types they subscribe to, once
/// per group, independently of every other group. Workers of one group compete: each delivery
/// goes to one of them (at least once; the handler gets the event id to stay idempotent).
public struct ConsumerGroup: Sendable {
    public typealias Handler = @Sendable (EventEnvelope, DeliveryAttempt) async throws -> Void

    /// Dotted and unique, e.g. `notifications.email`.
    public let name: String
    public let eventTypes: Set<String>
    /// Handle events with the same key one at a time, in publish order. Such a group gets a
    /// delivery row per event, written with the publish; other groups read the events as a log
    /// (BusLogMigration), which costs the publisher nothing per group.
    public let orderedByKey: Bool
    public let retry: RetryPolicy
    /// Worker tasks per process.
    public let concurrency: Int
    /// Deliveries claimed at once by one worker (their handlers run concurrently).
    public let batchSize: Int
    /// How long a claim holds before another worker may take the delivery (a worker that died
    /// mid-handling); longer than the slowest handler should take.
    public let claimTimeout: Duration
    /// The pause after a part-full batch. A worker that keeps up with publishers would otherwise
    /// claim every event on its own; pausing lets the next claim take several at once, so there
    /// are fewer claim writes per event under load. It adds up to this much latency under load,
    /// none when idle (an idle worker wakes at once on a notification). Measured with
    /// `flow-bus-probe bench` (3 groups, 8 publishers; 6 → 12 ms): PostgreSQL 2.1–2.2k → 2.5–2.6k
    /// events/s at one event per transaction and 4.5–4.9k → 5.4–5.8k at ten; SQLite 6.9–8.0k →
    /// 7.9–8.5k; p50 under load 4–6 → 7–8 ms. (2 → 6 ms had given SQLite +11% earlier.)
    public let linger: Duration
    public let handler: Handler

    public init(
        name: String, eventTypes: Set<String>, orderedByKey: Bool = false, retry: RetryPolicy = RetryPolicy(),
        concurrency: Int = 1, batchSize: Int = 64, claimTimeout: Duration = .seconds(60), linger: Duration = .milliseconds(12),
        handler: @escaping Handler
    ) {
        precondition(!name.isEmpty && !eventTypes.isEmpty, "a consumer group needs a name and event types")
        precondition(concurrency >= 1 && batchSize >= 1, "concurrency and batch size must be positive")
        precondition(linger >= .zero, "linger must not be negative")
        self.name = name
        self.eventTypes = eventTypes
        self.orderedByKey = orderedByKey
        self.retry = retry
        self.concurrency = concurrency
        self.batchSize = batchSize
        self.claimTimeout = claimTimeout
        self.linger = linger
        self.handler = handler
    }

    /// A group subscribed to one event type whose handler receives the decoded payload.
    public init<E: DomainEvent>(
        name: String, handling _: E.Type, orderedByKey: Bool = false, retry: RetryPolicy = RetryPolicy(),
        concurrency: Int = 1, batchSize: Int = 64, claimTimeout: Duration = .seconds(60), linger: Duration = .milliseconds(12),
        handler: @escaping @Sendable (E, EventEnvelope, DeliveryAttempt) async throws -> Void
    ) {
        self.init(
            name: name, eventTypes: [E.type], orderedByKey: orderedByKey, retry: retry, concurrency: concurrency,
            batchSize: batchSize, claimTimeout: claimTimeout, linger: linger
        ) { envelope, attempt in
            try await handler(try envelope.decode(E.self), envelope, attempt)
        }
    }
}

/// Which delivery of an event this is (1 on the first try).
public struct DeliveryAttempt: Sendable {
    public let number: Int
    public let group: String
}

/// Exponential backoff with equal jitter between attempts, up to `maxAttempts`, after which the
/// delivery moves to the dead letters with its last error.
public struct RetryPolicy: Sendable {
    public let maxAttempts: Int
    public let baseDelay: Duration
    public let maxDelay: Duration

    public init(maxAttempts: Int = 8, baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300)) {
        precondition(maxAttempts >= 1, "at least one attempt")
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The wait before attempt `attempt + 1`: a random point between half and all of
    /// base × 2^(attempt−1), capped at `maxDelay` ("equal jitter": growing, never zero, spread
    /// so failed deliveries do not retry in lockstep).
    public func delay(afterAttempt attempt: Int) -> Duration {
        let exponential = baseDelay * (1 << min(max(attempt - 1, 0), 30))
        let capped = min(exponential, maxDelay)
        let fraction = Double.random(in: 0.5...1.0)
        return capped * fraction
    }
}
