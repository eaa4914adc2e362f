//! `GET /metrics` in Prometheus text format: requests by route and status, request
//! durations, and the figures operators watch (clients per tenant, files waiting, the
//! combiner's last run). Labels carry route names and tenant names, never keys.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use poem::web::Data;
use poem::{handler, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::ports::ClientApi;

/// Paths with a route; any other path is counted as `unmatched`, so a scan of random URLs
/// cannot blow up the number of series.
const ROUTES: &[&str] = &[
    "/clients",
    "/clients/zones",
    "/clients/zones/list",
    "/clients/users",
    "/clients/users/single",
    "/clients/users/list",
    "/clients/users/get",
    "/clients/imports",
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/openapi.yaml",
];

/// Route and method are always one of a fixed set (routes above, methods of the request
/// log), so the labels borrow them: counting a request allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

type DurationFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    /// The combiner's gauges, exposed only once it has run: a gauge reads 0 before it is
    /// set, which an alert on the success gauge would take for a failed run.
    combine_registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily,
    clients: Family<TenantLabels, Gauge>,
    pending_files: Gauge,
    unsynced_files: Gauge,
    last_run_time: Gauge<f64, AtomicU64>,
    last_run_ok: Gauge,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

fn route_of(path: &str) -> &'static str {
    if let Some(route) = ROUTES.iter().find(|route| **route == path) {
        route
    } else if path.starts_with("/docs") {
        "/docs"
    } else {
        "unmatched"
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: DurationFamily = Family::new_with_constructor(duration_histogram);
        let clients = Family::<TenantLabels, Gauge>::default();
        let pending_files = Gauge::default();
        let unsynced_files = Gauge::default();
        let last_run_time = Gauge::<f64, AtomicU64>::default();
        let last_run_ok = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request duration",
            durations.clone(),
        );
        registry.register(
            "patriot_clients",
            "Clients stored per tenant",
            clients.clone(),
        );
        registry.register(
            "patriot_xml_files_pending",
            "Per-client XML files waiting for the combiner",
            pending_files.clone(),
        );
        registry.register(
            "patriot_xml_files_unsynced",
            "Per-client XML files written and answered but not yet fsynced (their owed marks stand for them)",
            unsynced_files.clone(),
        );
        let mut combine_registry = Registry::default();
        combine_registry.register(
            "patriot_combine_last_run_timestamp_seconds",
            "When the combiner last ran (Unix time); absent before its first run",
            last_run_time.clone(),
        );
        combine_registry.register(
            "patriot_combine_last_run_success",
            "1 when the combiner's last run succeeded, 0 when it failed",
            last_run_ok.clone(),
        );
        Self {
            registry,
            combine_registry,
            requests,
            durations,
            clients,
            pending_files,
            unsynced_files,
            last_run_time,
            last_run_ok,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, method: &'static str, path: &str, status: u16, elapsed: Duration) {
        let route = route_of(path);
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { route, method })
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the figures read now.
    async fn render(&self, service: &dyn ClientApi) -> String {
        let mut has_run = false;
        match service.operations().await {
            Ok(ops) => {
                self.clients.clear();
                for (tenant, count) in ops.clients {
                    self.clients
                        .get_or_create(&TenantLabels {
                            tenant: tenant.as_str().to_owned(),
                        })
                        .set(count as i64);
                }
                self.pending_files.set(ops.pending_files as i64);
                self.unsynced_files.set(ops.unsynced_files as i64);
                if let Some(run) = ops.last_run {
                    has_run = true;
                    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&run.at) {
                        self.last_run_time.set(at.timestamp() as f64);
                    }
                    self.last_run_ok.set(i64::from(run.ok));
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the figures for /metrics"),
        }
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        if has_run {
            let mut combine = String::new();
            match prometheus_client::encoding::text::encode(&mut combine, &self.combine_registry) {
                // One exposition: the first part's end marker goes, the second's stays.
                Ok(()) => {
                    text.truncate(text.trim_end_matches("# EOF\n").len());
                    text.push_str(&combine);
                }
                Err(e) => tracing::error!(error = %e, "could not encode metrics"),
            }
        }
        text
    }
}

#[handler]
pub async fn metrics_endpoint(ports: Data<&Arc<super::front::Ports>>) -> Response {
    let text = ports.metrics.render(ports.api()).await;
    Response::builder()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text)
}
