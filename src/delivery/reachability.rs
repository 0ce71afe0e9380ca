//! Whether the hosts a transport posts to answer. A push that gets no answer is retried and
//! recorded with a reason naming the host and the cause; the log says so once when a host
//! stops answering and once when it answers again, not at every push.

use std::collections::HashSet;

use parking_lot::Mutex;

/// The hosts of one transport that gave no answer to their last request.
pub struct Reachability {
    /// `gateway`, `fcm` or `apns`, as the delivery log names it.
    transport: &'static str,
    failing: Mutex<HashSet<String>>,
}

impl Reachability {
    pub fn new(transport: &'static str) -> Reachability {
        Reachability {
            transport,
            failing: Mutex::new(HashSet::new()),
        }
    }

    /// `url`'s host gave no answer: `what` failed, for `cause`. Returns the delivery log's
    /// reason; logs a warning if the host answered until now. No part of it is secret:
    /// only the host, never the URL (an APNs path holds the device token).
    pub fn no_answer(&self, url: &str, what: &str, cause: Option<&str>) -> String {
        let host = host(url);
        let reason = match cause {
            Some(cause) => format!("cannot reach {host}: {what}: {cause}"),
            None => format!("cannot reach {host}: {what}"),
        };
        if self.failing.lock().insert(host.to_string()) {
            let transport = self.transport;
            tracing::warn!(transport, host, %reason, "push provider unreachable: its pushes are retried while retries last");
        }
        reason
    }

    /// `url`'s host answered, whatever it said; logged if it did not until now.
    pub fn answered(&self, url: &str) {
        let host = host(url);
        if self.failing.lock().remove(host) {
            let transport = self.transport;
            tracing::info!(transport, host, "push provider reachable again");
        }
    }
}

/// The host (and port) of `url`: what the logs may name of it.
pub fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials in the URL stay out.
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// The innermost cause of `error`: an operating system's or TLS library's words (`Connection
/// refused (os error 111)`), without the outer messages that quote the request's URL.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = error.source()?;
    while let Some(deeper) = cause.source() {
        cause = deeper;
    }
    Some(cause.to_string())
}

/// What a ureq request that got no answer failed at, and why.
pub fn ureq_failure(reachability: &Reachability, url: &str, error: &ureq::Transport) -> String {
    let what = error.kind().to_string().to_lowercase();
    reachability.no_answer(url, &what, root_cause(error).as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::capture::logged;

    #[test]
    fn the_host_is_all_the_logs_name_of_a_url() {
        assert_eq!(
            host("https://fcm.googleapis.com/v1/projects/p/messages:send"),
            "fcm.googleapis.com"
        );
        assert_eq!(host("http://127.0.0.1:9/3/device/TOKEN"), "127.0.0.1:9");
        assert_eq!(host("https://user:secret@gw.example/push"), "gw.example");
        assert_eq!(host("https://gw.example?x=1"), "gw.example");
        assert_eq!(host("gw.example"), "gw.example");
    }

    /// A loopback port nothing listens on: a connection to it is refused.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[test]
    fn a_host_that_stops_answering_is_logged_once_and_again_when_it_answers() {
        let port = closed_port();
        let url = format!("http://127.0.0.1:{port}/v1/projects/p/messages:send");
        let agent = ureq::Agent::new();
        let reach = Reachability::new("fcm");
        let mut reasons = Vec::new();
        let log = logged(|| {
            for _ in 0..3 {
                let Err(ureq::Error::Transport(e)) = agent.post(&url).send_string("{}") else {
                    panic!("nothing listens on {port}");
                };
                reasons.push(ureq_failure(&reach, &url, &e));
            }
            reach.answered(&url);
            reach.answered(&url);
        });
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(lines[0].contains("WARN") && lines[0].contains("push provider unreachable"));
        assert!(
            lines[0].contains(&format!("host=\"127.0.0.1:{port}\"")),
            "{log}"
        );
        assert!(lines[0].contains("transport=\"fcm\""), "{log}");
        assert!(lines[0].contains("refused"), "the cause: {log}");
        assert!(
            lines[1].contains("INFO") && lines[1].contains("reachable again"),
            "{log}"
        );
        let reason = &reasons[0];
        assert!(reasons.iter().all(|r| r == reason));
        assert!(
            reason.starts_with(&format!(
                "cannot reach 127.0.0.1:{port}: connection failed: "
            )),
            "{reason}"
        );
        assert!(reason.to_lowercase().contains("refused"), "{reason}");
        assert!(!reason.contains("/v1/projects"), "no path: {reason}");
    }
}
