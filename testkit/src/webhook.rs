//! A webhook receiver over real HTTP (hyper) for the tests: records every POST (headers and
//! body) and answers from a script of statuses (the last one repeats).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct WebhookServer {
    pub url: String,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    /// Statuses to answer, in order; the last one repeats. Default: 200.
    pub script: Arc<Mutex<VecDeque<u16>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl WebhookServer {
    /// Listening on loopback; `path` is appended to the URL (a token-like secret path).
    pub fn start(path: &str) -> WebhookServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from([200])));
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let (h, s) = (Arc::clone(&hits), Arc::clone(&script));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        _ = &mut rx => return,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let (h, s) = (Arc::clone(&h), Arc::clone(&s));
                    tokio::spawn(async move {
                        let service = service_fn(move |req: Request<Incoming>| {
                            let (h, s) = (Arc::clone(&h), Arc::clone(&s));
                            async move {
                                let path = req.uri().path().to_string();
                                let headers = req
                                    .headers()
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.to_string(), v.to_str().unwrap_or("").to_string())
                                    })
                                    .collect();
                                let bytes = req.into_body().collect().await.unwrap().to_bytes();
                                let body = serde_json::from_slice(&bytes)
                                    .unwrap_or(serde_json::Value::Null);
                                h.lock().unwrap().push(Hit {
                                    path,
                                    headers,
                                    body,
                                });
                                let status = {
                                    let mut s = s.lock().unwrap();
                                    if s.len() > 1 {
                                        s.pop_front().unwrap()
                                    } else {
                                        *s.front().unwrap()
                                    }
                                };
                                let mut resp = Response::new(Full::new(Bytes::from_static(b"ok")));
                                *resp.status_mut() = StatusCode::from_u16(status).unwrap();
                                Ok::<_, Infallible>(resp)
                            }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        WebhookServer {
            url,
            hits,
            script,
            _shutdown: tx,
        }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    pub fn answer(&self, statuses: &[u16]) {
        *self.script.lock().unwrap() = statuses.iter().copied().collect();
    }
}
