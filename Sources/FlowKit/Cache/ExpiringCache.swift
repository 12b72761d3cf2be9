import Foundation
import Synchronization

/// A bounded in-memory cache whose entries expire, for values that are read far more often
/// than they change (rendered responses). Safe to share between tasks.
///
/// Bounded without per-entry bookkeeping: entries live in two generations; when the newer one
/// is full it becomes the older one and the old older one is dropped, and a hit in the older
/// generation moves the entry forward. Recently used entries survive, at most `capacity` are
/// held, and every operation is O(1).
///
/// Cache-aside without stale fills: ``value(for:orLoad:)`` notes the invalidation generation
/// before loading from the source and stores the loaded value only if nothing was invalidated
/// meanwhile (the value may predate that change).
public final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let expires: ContinuousClock.Instant
    }

    private struct State {
        var newer: [Key: Entry] = [:]
        var older: [Key: Entry] = [:]
        /// Bumped by every invalidation, so fills that started before it are refused.
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())
    private let generationCapacity: Int
    private let lifetime: Duration

    /// - Parameters:
    ///   - capacity: most entries held; 0 disables the cache (nothing is stored).
    ///   - lifetime: how long an entry may be served after it was stored.
    public init(capacity: Int, lifetime: Duration) {
        generationCapacity = max(0, capacity / 2)
        self.lifetime = lifetime
    }

    public var isEnabled: Bool { generationCapacity > 0 && lifetime > .zero }

    /// The cached value, if present and not expired.
    public func value(for key: Key) -> Value? {
        guard isEnabled else { return nil }
        let now = ContinuousClock.now
        return state.withLock { state in
            if let entry = state.newer[key] {
                return entry.expires > now ? entry.value : nil
            }
            guard let entry = state.older.removeValue(forKey: key), entry.expires > now else { return nil }
            Self.insert(entry, for: key, into: &state, capacity: generationCapacity)
            return entry.value
        }
    }

    /// The cached value, or `load`'s, stored unless something was invalidated while it loaded.
    public func value(for key: Key, orLoad load: () async throws -> Value) async rethrows -> Value {
        if let cached = value(for: key) { return cached }
        let before = generation
        let loaded = try await load()
        store(loaded, for: key, loadedAt: before)
        return loaded
    }

    /// Read before loading a value to store; see ``store(_:for:loadedAt:)``.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Stores `value` unless something was invalidated since `generation` was read.
    public func store(_ value: Value, for key: Key, loadedAt generation: UInt64) {
        guard isEnabled else { return }
        let entry = Entry(value: value, expires: ContinuousClock.now.advanced(by: lifetime))
        state.withLock { state in
            guard state.generation == generation else { return }
            Self.insert(entry, for: key, into: &state, capacity: generationCapacity)
        }
    }

    public func invalidate(_ key: Key) {
        state.withLock { state in
            state.generation &+= 1
            state.newer[key] = nil
            state.older[key] = nil
        }
    }

    public func invalidateAll() {
        state.withLock { state in
            state.generation &+= 1
            state.newer.removeAll()
            state.older.removeAll()
        }
    }

    public var count: Int { state.withLock { $0.newer.count + $0.older.count } }

    private static func insert(_ entry: Entry, for key: Key, into state: inout State, capacity: Int) {
        if state.newer.count >= capacity, state.newer[key] == nil {
            state.older = state.newer
            state.newer = [:]
        }
        state.newer[key] = entry
    }
}
