//! A deadline between the pieces of a request body, so that a client that stops sending in the
//! middle of one cannot hold its connection, its buffers and its share of a service's budget.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// A body that received nothing for [`crate::ConnectionLimits::body_idle_timeout`].
#[derive(Debug, thiserror::Error)]
#[error("the request body stalled: nothing arrived for {0:?}")]
pub struct BodyStalled(pub Duration);

/// A request body that fails with [`BodyStalled`] when no byte arrives within `idle` of the
/// last one (or of the first read). A slow client that keeps sending is fine; one that stops
/// is cut off. The timer is only armed once the body has to wait.
pub(crate) struct IdleDeadlineBody {
    inner: Incoming,
    idle: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl IdleDeadlineBody {
    pub(crate) fn new(inner: Incoming, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            deadline: None,
        }
    }
}

impl Body for IdleDeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(deadline) = &mut this.deadline {
                    deadline.as_mut().reset(Instant::now() + this.idle);
                }
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                let idle = this.idle;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                ready!(deadline.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(BodyStalled(idle)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
