import Metrics

/// The bus's Prometheus metrics (names are `flow_bus_*`).
enum BusMetrics {
    static func published(type: String) {
        Counter(label: "flow_bus_published_total", dimensions: [("type", type)]).increment()
    }

    static func outcome(group: String, handled: Int, retried: Int, deadLettered: Int) {
        if handled > 0 { Counter(label: "flow_bus_handled_total", dimensions: [("group", group), ("outcome", "success")]).increment(by: handled) }
        if retried > 0 { Counter(label: "flow_bus_handled_total", dimensions: [("group", group), ("outcome", "retry")]).increment(by: retried) }
        if deadLettered > 0 { Counter(label: "flow_bus_handled_total", dimensions: [("group", group), ("outcome", "dead_letter")]).increment(by: deadLettered) }
    }

    static func handlerDuration(group: String, _ duration: Duration) {
        Timer(label: "flow_bus_handler_duration_seconds", dimensions: [("group", group)]).record(duration: duration)
    }

    /// Publish-to-handled latency of a successful delivery.
    static func endToEnd(group: String, seconds: Double) {
        Timer(label: "flow_bus_delivery_latency_seconds", dimensions: [("group", group)]).record(duration: .nanoseconds(Int64(max(0, seconds) * 1e9)))
    }

    static func backlog(_ status: GroupStatus) {
        let dimensions = [("group", status.group)]
        Gauge(label: "flow_bus_pending", dimensions: dimensions).record(status.pending)
        Gauge(label: "flow_bus_in_flight", dimensions: dimensions).record(status.inFlight)
        Gauge(label: "flow_bus_retrying", dimensions: dimensions).record(status.retrying)
        Gauge(label: "flow_bus_oldest_pending_seconds", dimensions: dimensions).record(status.oldestPendingSeconds ?? 0)
        Gauge(label: "flow_bus_dead_letters", dimensions: dimensions).record(status.deadLetters)
    }
}
