//! The Redis provider: every call is one command on the server (async, tokio), through the
//! `redis` crate's connection manager (one server) or its async cluster client.

mod backend;
mod block;
mod command;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::Script;

use crate::decision::Decision;
use crate::error::Error;
use crate::key::Key;
use crate::limit::Limit;
use crate::mode::Mode;
use crate::request::{quantity, refund_quantity, Call, Command};

pub use backend::Backend;
use block::BlockPool;
use command::{invocation, Invocation};

/// A limiter on a Redis or Valkey server (or cluster). Cheap to clone; clones share the
/// connection.
///
/// Every call is one round trip. `BLOCK` waits on the server with the module (on a connection
/// of its own when made by [`RedisLimiter::connect`], see [`block`]); through the
/// function or the script (which cannot wait), a limited `BLOCK` call sleeps for its
/// `retry_after` and tries again while the wait allows, so it is not first come, first served.
#[derive(Clone)]
pub struct RedisLimiter<C = ConnectionManager> {
    con: C,
    backend: Backend,
    script: Arc<Script>,
    /// Connections for the module's `BLOCK` calls (`connect` only).
    blocking: Option<Arc<BlockPool>>,
}

impl RedisLimiter<ConnectionManager> {
    /// Connects to one server (`redis://host:port/db`), reconnecting as needed.
    pub async fn connect(url: &str) -> Result<RedisLimiter<ConnectionManager>, Error> {
        let client = redis::Client::open(url)?;
        let mut limiter = RedisLimiter::new(ConnectionManager::new(client.clone()).await?).await?;
        limiter.blocking = Some(Arc::new(BlockPool::new(client)));
        Ok(limiter)
    }
}

impl RedisLimiter<ClusterConnection> {
    /// Connects to a Redis Cluster through any of its nodes.
    pub async fn connect_cluster(urls: &[&str]) -> Result<RedisLimiter<ClusterConnection>, Error> {
        let client = redis::cluster::ClusterClient::new(urls.to_vec())?;
        RedisLimiter::new(client.get_async_connection().await?).await
    }
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> RedisLimiter<C> {
    /// A limiter on `con`: the module if the server has it, else the function library
    /// (loaded now), else the script.
    pub async fn new(mut con: C) -> Result<RedisLimiter<C>, Error> {
        let backend = backend::detect(&mut con).await?;
        Ok(RedisLimiter::with_backend(con, backend))
    }

    /// A limiter on `con` that uses `backend` (the function library must be loaded, see
    /// [`RedisLimiter::load_library`]).
    pub fn with_backend(con: C, backend: Backend) -> RedisLimiter<C> {
        RedisLimiter {
            con,
            backend,
            script: Arc::new(Script::new(backend::SCRIPT)),
            blocking: None,
        }
    }

    /// Loads (or replaces) the function library on the server (every primary of a cluster).
    pub async fn load_library(&self) -> Result<(), Error> {
        backend::load_library(&mut self.con.clone()).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Takes `tokens` (0 peeks).
    pub async fn throttle(&self, key: &Key, limit: &Limit, tokens: u64) -> Result<Decision, Error> {
        self.throttle_with(key, limit, tokens, Mode::Plain).await
    }

    /// Takes `tokens` in `mode`.
    pub async fn throttle_with(
        &self,
        key: &Key,
        limit: &Limit,
        tokens: u64,
        mode: Mode,
    ) -> Result<Decision, Error> {
        let limits = [(key, limit)];
        let call = Call::new(Command::Throttle, &limits, quantity(tokens)?, mode)?;
        self.run(&call).await
    }

    /// One request against several limits (distinct keys; one hash tag in a cluster), all or
    /// nothing.
    pub async fn throttle_all(
        &self,
        limits: &[(&Key, &Limit)],
        tokens: u64,
        mode: Mode,
    ) -> Result<Decision, Error> {
        let call = Call::new(Command::Throttle, limits, quantity(tokens)?, mode)?;
        self.run(&call).await
    }

    /// What `throttle` would answer now; writes nothing (runs on replicas too).
    pub async fn peek(&self, key: &Key, limit: &Limit, tokens: u64) -> Result<Decision, Error> {
        let limits = [(key, limit)];
        let call = Call::new(Command::Peek, &limits, quantity(tokens)?, Mode::Plain)?;
        self.run(&call).await
    }

    /// Gives `tokens` back, never past a full bucket.
    pub async fn refund(&self, key: &Key, limit: &Limit, tokens: u64) -> Result<Decision, Error> {
        let limits = [(key, limit)];
        let call = Call::new(
            Command::Throttle,
            &limits,
            refund_quantity(tokens)?,
            Mode::Plain,
        )?;
        self.run(&call).await
    }

    /// Forgets a key (`DEL`): its bucket is full again.
    pub async fn reset(&self, key: &Key) -> Result<(), Error> {
        redis::cmd("DEL")
            .arg(key.as_bytes())
            .query_async::<i64>(&mut self.con.clone())
            .await?;
        Ok(())
    }

    async fn run(&self, call: &Call<'_>) -> Result<Decision, Error> {
        let reply = self.send(call).await?;
        let decision = Decision::from_reply(&reply, call.quantity, call.mode)?;
        match (call.mode, self.backend, decision) {
            (Mode::Block { max_wait_ms }, Backend::Function | Backend::Script, decision) => {
                self.retry_block(call, max_wait_ms, decision).await
            }
            (_, _, decision) => Ok(decision),
        }
    }

    async fn send(&self, call: &Call<'_>) -> Result<Vec<i64>, Error> {
        let mut con = self.con.clone();
        let reply = match (invocation(call, self.backend, &self.script), call.mode) {
            (Invocation::Cmd(cmd), Mode::Block { max_wait_ms })
                if self.backend == Backend::Module =>
            {
                match &self.blocking {
                    Some(pool) => {
                        let wait = Duration::from_millis(max_wait_ms.max(0).unsigned_abs());
                        let value = pool.query(&cmd, wait).await?;
                        redis::from_redis_value(value)
                            .map_err(|error| Error::UnexpectedReply(error.to_string()))?
                    }
                    None => cmd.query_async(&mut con).await?,
                }
            }
            (Invocation::Cmd(cmd), _) => {
                // CL.THROTTLEALL's first argument is the count, not a key: a cluster client
                // would route it by the count's slot (every call MOVED). Route by the first key.
                let multi = self.backend == Backend::Module && call.limits.len() > 1;
                let route = call.limits.first().filter(|_| multi).map(|(key, _)| *key);
                self.query(&mut con, &cmd, route).await?
            }
            (Invocation::Script(script), _) => script.invoke_async(&mut con).await?,
        };
        Ok(reply)
    }

    /// A command on the shared connection. The function library can vanish (`FUNCTION
    /// FLUSH`, a restart or a new primary without it): then it is loaded again and the call
    /// sent once more, as the script is on `NOSCRIPT`.
    async fn query(
        &self,
        con: &mut C,
        cmd: &redis::Cmd,
        route: Option<&Key>,
    ) -> Result<Vec<i64>, Error> {
        let cluster = (con as &mut dyn Any).downcast_mut::<ClusterConnection>();
        if let (Some(cluster), Some(key)) = (cluster, route) {
            let node = Route::with_key(key.as_bytes(), SlotAddr::Master);
            let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(node));
            let value = cluster.route_command(cmd.clone(), routing).await?;
            return redis::from_redis_value(value)
                .map_err(|error| Error::UnexpectedReply(error.to_string()));
        }
        match cmd.query_async(con).await {
            Err(error) if self.backend == Backend::Function && backend::is_missing(&error) => {
                backend::load_library(con).await?;
                Ok(cmd.query_async(con).await?)
            }
            reply => Ok(reply?),
        }
    }

    /// `BLOCK` without the module: sleep for `retry_after` and try again, while the wait
    /// allows.
    async fn retry_block(
        &self,
        call: &Call<'_>,
        max_wait_ms: i64,
        mut decision: Decision,
    ) -> Result<Decision, Error> {
        let deadline = tokio::time::Instant::now()
            + std::time::Duration::from_millis(max_wait_ms.unsigned_abs());
        while let Decision::Limited {
            retry_after: Some(wait),
            ..
        } = decision
        {
            if tokio::time::Instant::now() + wait > deadline {
                break;
            }
            tokio::time::sleep(wait).await;
            decision = Decision::from_reply(&self.send(call).await?, call.quantity, call.mode)?;
        }
        Ok(decision)
    }
}
