//! Kent (the Python fake Sentry on PyPI, `kent==2.2.0`: a Flask app on Werkzeug's development
//! server) started by the bench as a peer, so that `bench fake-sentry --kent PATH` measures it
//! with the same load in the same run without a second terminal.
//!
//! Kent cannot bind port 0 and report the port it got, so it is given a port that was free a
//! moment before; should another process take it first, Kent exits and another port is tried.
//! Kent logs every request to stderr; that goes to a log file in a temporary directory, read
//! back only when Kent fails.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::child_server::{ChildServer, free_port, http_client};

/// How long Kent may take to answer after its start (Flask imports take about a second).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Ports tried before giving up, should each be taken between its check and Kent's bind.
const ATTEMPTS: usize = 3;

/// A running Kent, stopped by [`Kent::stop`] or killed on drop.
#[derive(Debug)]
pub struct Kent {
    server: ChildServer,
    url: String,
    /// Holds the log file; removed with it.
    _dir: tempfile::TempDir,
}

impl Kent {
    /// Starts `kent_server` (the `kent-server` script of a Kent install) on a free port of
    /// 127.0.0.1 and waits until it answers.
    pub async fn start(kent_server: &Path) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("kent-bench-").tempdir()?;
        let client = http_client()?;
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let port = free_port()?;
            let mut command = tokio::process::Command::new(kent_server);
            command
                .args(["run", "--host", "127.0.0.1", "--port", &port.to_string()])
                .stdout(std::process::Stdio::null());
            let mut server = ChildServer::spawn("kent", command, &dir.path().join("kent.log"))
                .with_context(|| format!("cannot run {}", kent_server.display()))?;
            let url = format!("http://127.0.0.1:{port}");
            let ready = format!("{url}/api/eventlist/");
            match server
                .wait_until_answers(&client, &ready, START_TIMEOUT)
                .await
            {
                Ok(_) => {
                    return Ok(Self {
                        server,
                        url,
                        _dir: dir,
                    });
                }
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops it with SIGTERM.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.terminate(Duration::from_secs(10)).await?;
        Ok(())
    }
}
