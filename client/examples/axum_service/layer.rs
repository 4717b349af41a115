//! A tower layer that rate-limits every request with this crate (as tower-governor does with
//! governor, but on Redis, exact, and with several limits at once): each client IP gets a
//! per-minute and a per-day limit, checked and charged together (`throttle_all`). Every
//! response carries the IETF draft `RateLimit-*` and the widespread `X-RateLimit-*` headers;
//! a refused request gets 429 with `Retry-After` (none when it can never fit).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use redis_gcra_client::{Decision, Key, Limit, Mode, RedisLimiter};
use tower::{Layer, Service};

/// The limits every client IP gets, and the prefix of their keys.
#[derive(Clone)]
pub struct Policy {
    pub prefix: String,
    pub per_minute: Limit,
    pub per_day: Limit,
}

#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: RedisLimiter,
    policy: Policy,
}

impl RateLimitLayer {
    pub fn new(limiter: RedisLimiter, policy: Policy) -> RateLimitLayer {
        RateLimitLayer { limiter, policy }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;
    fn layer(&self, inner: S) -> RateLimited<S> {
        RateLimited {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RateLimited<S> {
    inner: S,
    layer: RateLimitLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Body>> for RateLimited<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The service that was polled ready serves this request; a clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let ip = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_string(), |info| info.0.ip().to_string());
            let decision = match check(&layer, &ip).await {
                Ok(decision) => decision,
                Err(error) => return Ok(plain(StatusCode::SERVICE_UNAVAILABLE, &error)),
            };
            let mut response = if decision.is_allowed() {
                request.extensions_mut().insert(decision);
                inner.call(request).await?
            } else {
                refused(&decision)
            };
            add_headers(response.headers_mut(), &decision);
            Ok(response)
        })
    }
}

/// One request of `ip` against both limits, charged together or not at all.
async fn check(layer: &RateLimitLayer, ip: &str) -> Result<Decision, String> {
    // A hash tag keeps one client's keys in one Redis Cluster slot.
    let prefix = &layer.policy.prefix;
    let minute = Key::new(format!("{prefix}:{{{ip}}}:minute")).map_err(|e| e.to_string())?;
    let day = Key::new(format!("{prefix}:{{{ip}}}:day")).map_err(|e| e.to_string())?;
    let limits = [
        (&minute, &layer.policy.per_minute),
        (&day, &layer.policy.per_day),
    ];
    layer
        .limiter
        .throttle_all(&limits, 1, Mode::Plain)
        .await
        .map_err(|e| e.to_string())
}

/// Headers are in whole seconds, rounded up.
fn seconds(duration: Duration) -> String {
    duration.as_millis().div_ceil(1000).to_string()
}

fn add_headers(headers: &mut HeaderMap, decision: &Decision) {
    let status = decision.status();
    let values = [
        ("Limit", status.limit.to_string()),
        ("Remaining", status.remaining.to_string()),
        ("Reset", seconds(status.reset_after)),
    ];
    for (name, value) in values {
        for prefix in ["RateLimit-", "X-RateLimit-"] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(
                    http::HeaderName::try_from(format!("{prefix}{name}"))
                        .unwrap_or(http::header::WARNING),
                    value,
                );
            }
        }
    }
}

fn refused(decision: &Decision) -> Response<Body> {
    let retry = decision.retry_after().map(seconds);
    let body = match &retry {
        Some(after) => format!(r#"{{"error":"too many requests","retry_after_seconds":{after}}}"#),
        None => r#"{"error":"too many requests"}"#.to_string(),
    };
    let mut response = json(StatusCode::TOO_MANY_REQUESTS, body);
    // None: this request can never fit; there is no time after which to retry.
    if let Some(after) = retry.and_then(|after| HeaderValue::from_str(&after).ok()) {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, after);
    }
    response
}

pub fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn plain(status: StatusCode, message: &str) -> Response<Body> {
    json(status, format!(r#"{{"error":{message:?}}}"#))
}
