import Metrics
import Prometheus

/// The process-wide Prometheus registry behind `/metrics`.
///
/// swift-metrics binds a metric to the factory that exists when the metric is created, so
/// ``bootstrap()`` must run before anything creates metrics (the CLI calls it first thing).
/// Bootstrapping is once per process; later calls return the same registry.
public enum FlowMetrics {
    private static let shared: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // HTTP and database latencies: sub-millisecond to several seconds.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        // How many writes shared one SQLite COMMIT (SQLiteWriter caps a group at 64).
        factory.valueHistogramBuckets["flow_db_sqlite_commit_group_size"] = [1, 2, 4, 8, 16, 32, 64]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        shared
    }

    /// The text exposition format (version 0.0.4) of every metric.
    public static func exposition() -> String {
        shared.emitToString()
    }
}
