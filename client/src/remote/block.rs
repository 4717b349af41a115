//! `BLOCK` with the module: the server answers when the tokens are due, up to the wait later.
//! On the shared connection such a call would time out (the connection manager's 500 ms
//! response timeout) while the server still reserves the tokens, and every other call would
//! queue behind it. So each one takes a connection of its own, from a small pool, and its
//! timeout covers the wait.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, Value};

use crate::error::Error;

/// The usual time for a reply, past the wait (the `redis` crate's default response timeout).
const REPLY_TIMEOUT: Duration = Duration::from_millis(500);
/// Idle connections kept for later `BLOCK` calls; more are opened while many wait at once.
const IDLE_KEPT: usize = 4;

pub(crate) struct BlockPool {
    client: redis::Client,
    idle: Mutex<Vec<MultiplexedConnection>>,
}

impl BlockPool {
    pub fn new(client: redis::Client) -> BlockPool {
        BlockPool {
            client,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends `cmd` on a connection of its own; fails (`Error::Connection`) if no reply comes
    /// within `max_wait` and the usual reply time.
    pub async fn query(&self, cmd: &Cmd, max_wait: Duration) -> Result<Value, Error> {
        let pooled = self.idle().pop();
        let mut con = match pooled {
            Some(con) => con,
            None => {
                // No response timeout of its own: the call's timeout below covers the wait.
                let config = AsyncConnectionConfig::new().set_response_timeout(None);
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?
            }
        };
        let limit = max_wait.saturating_add(REPLY_TIMEOUT);
        match tokio::time::timeout(limit, cmd.query_async::<Value>(&mut con)).await {
            Ok(Ok(value)) => {
                self.give_back(con);
                Ok(value)
            }
            Ok(Err(error)) => {
                // An error reply leaves the connection usable; a broken one is dropped.
                if error.code().is_some() {
                    self.give_back(con);
                }
                Err(error.into())
            }
            // The reply may still come: the connection is dropped with it.
            Err(_) => Err(Error::Connection(redis::RedisError::from(
                std::io::Error::new(std::io::ErrorKind::TimedOut, "BLOCK: no reply in time"),
            ))),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<MultiplexedConnection>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn give_back(&self, con: MultiplexedConnection) {
        let mut idle = self.idle();
        if idle.len() < IDLE_KEPT {
            idle.push(con);
        }
    }
}
