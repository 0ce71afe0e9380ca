//! The change feed: every committed write's events (`model::change`), in commit order, to
//! whoever subscribes in this process (the realtime streams).
//!
//! Consumers read a `tokio::sync::broadcast` channel. One that falls behind by more than
//! the channel holds gets `RecvError::Lagged` and must treat it as a `Resync`.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::model::change::Change;

/// Events a slow consumer may fall behind by before it lags.
const CAPACITY: usize = 4096;

/// The feed of one store. Cheap to clone.
#[derive(Clone)]
pub struct Feed {
    sender: broadcast::Sender<Arc<Change>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Feed {
    /// Every event published from now on, in commit order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.sender.subscribe()
    }
}
