import Logging
import PostgresNIO

/// Checks every pooled PostgreSQL connection at a fixed interval: each runs `SELECT 1`, and one
/// that does not answer within `timeout` is closed, so the pool opens another.
///
/// Why Flow does this and not postgres-nio: the pool keeps all its connections open
/// (`minimumConnections` = pool size) and its own keep-alive is off. postgres-nio schedules its
/// keep-alive, and the idle timeout of connections above the minimum, as two timers (a child
/// task each) every time a connection goes back to the pool, and cancels them at the next lease.
/// Flow leases and releases a connection for every request, so those timers cost ~20% of Flow's
/// CPU per nearby search on PostgreSQL (≈1,010 → 760–880 µs per request, 2026-12-03). This
/// check costs one `SELECT 1` per connection per interval, whatever the traffic.
///
/// What it keeps: an idle connection behind a NAT or firewall that forgets quiet flows still
/// carries traffic every interval, and one that died without a FIN (a half-open TCP connection,
/// a stopped backend) is found and replaced, instead of hanging the next request that gets it.
/// postgres-nio's keep-alive had no timeout: a ping that never came back held its connection.
struct PostgresKeepAlive: Sendable {
    /// How long a connection has to answer before it is closed.
    static let defaultTimeout: Duration = .seconds(10)

    let poolSize: Int
    let interval: Duration
    let timeout: Duration
    let logger: Logger

    /// Checks the connections every `interval` until cancelled.
    func run(withConnection: @escaping @Sendable (@Sendable (PostgresConnection) async throws -> Void) async throws -> Void) async {
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            await checkEveryConnection(withConnection)
        }
    }

    /// One round: `poolSize` leases that each hold their connection until all have one (or the
    /// timeout passed), so each lands on a different connection. Leased one after another, they
    /// would all get the same idle connection. Leases queue with requests, in order.
    func checkEveryConnection(_ withConnection: @escaping @Sendable (@Sendable (PostgresConnection) async throws -> Void) async throws -> Void) async {
        let gate = CountdownGate(expected: poolSize)
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                // Nobody waits at the gate longer than the timeout: a lease still queued behind busy
                // requests then checks whichever connection it gets.
                try? await Task.sleep(for: timeout)
                gate.open()
                return false
            }
            for _ in 0..<poolSize {
                group.addTask {
                    do {
                        try await withConnection { connection in
                            await check(connection)
                            await gate.arrive()
                        }
                    } catch {
                        // A lease that failed (the server is down) must not keep the others waiting.
                        gate.leave()
                    }
                    return true
                }
            }
            var checked = 0
            while checked < poolSize, let isCheck = await group.next() {
                if isCheck { checked += 1 }
            }
            group.cancelAll()
        }
    }

    /// Runs `SELECT 1`; closes the connection when it fails or does not answer within the
    /// timeout. Closing is also what ends the unanswered query (cancelling its task would not:
    /// the query waits on the connection, which is why ``withDeadline`` is not used here).
    private func check(_ connection: PostgresConnection) async {
        await withTaskGroup(of: Bool?.self) { group in
            group.addTask { (try? await connection.run("SELECT 1", logger: logger) { _ in }) != nil }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first != true {
                logger.warning("closing a pooled PostgreSQL connection that failed its check",
                               metadata: ["outcome": .string(first == nil ? "no answer within \(timeout)" : "query failed")])
                try? await connection.close()
            }
            group.cancelAll()
        }
    }
}
