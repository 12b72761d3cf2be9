import NIOPosix

/// Runs Swift tasks on the thread of a SQLite connection.
///
/// sqlite-nio runs each statement on the connection's thread and resumes the calling task on
/// Swift's shared pool: two threads woken per statement, and the connection idles while the task
/// waits to be scheduled between statements. A task that prefers this executor
/// (`withTaskExecutorPreference`) runs between its statements on that same thread, so a
/// statement and the Swift code around it follow each other without a thread switch. On the
/// writer, whose statements queue back to back, bus throughput rose by about 40% (2,063–2,632 →
/// 2,893–4,115 events/s at synchronous=normal, scripts/bench-bus); on readers it measured
/// neutral (nearby/search p99 within noise) and is kept so that every connection works alike.
final class ConnectionThreadExecutor: TaskExecutor {
    private let thread: NIOThreadPool

    init(thread: NIOThreadPool) {
        self.thread = thread
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // A job must run even when the pool has stopped (it then runs right here): a task
        // whose job is dropped never finishes.
        thread.submit { _ in job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
