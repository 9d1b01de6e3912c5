//! A small S3 client: PUT, GET and DELETE of whole objects with path-style URLs
//! (`ENDPOINT/BUCKET/NAME`), signed with AWS Signature Version 4 (header form,
//! payload hash signed). Only what the archive needs; any S3-compatible server
//! speaks it. The time of the signature is passed in, like every clock in memd.
//!
//! Errors: a network failure, a timeout or a 5xx is `Unavailable` (the same call may
//! succeed later); a missing object on GET is `Ok(None)`; any other status is
//! `Unavailable` too, with the server's answer in the message (a wrong key or bucket
//! is an operator's fix, not the caller's).

use super::hex;
use crate::error::{CoreError, Result};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Largest object body read back (objects are `archive.object_bytes` plus overhead).
const MAX_OBJECT_BYTES: u64 = 1 << 30;

/// Where and as whom to talk S3.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// `http(s)://host[:port]`, no path.
    pub endpoint: String,
    /// Bucket (must exist).
    pub bucket: String,
    /// Signing region.
    pub region: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Total time of one request.
    pub timeout: Duration,
}

/// The client.
pub struct S3 {
    cfg: S3Config,
    host: String,
    agent: ureq::Agent,
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `(YYYYMMDD, YYYYMMDDTHHMMSSZ)` of a Unix time in ms (UTC; civil-from-days).
pub fn amz_dates(now_ms: u64) -> (String, String) {
    let secs = now_ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{year:04}{month:02}{day:02}");
    let stamp = format!("{date}T{:02}{:02}{:02}Z", rem / 3600, rem / 60 % 60, rem % 60);
    (date, stamp)
}

impl S3 {
    /// Checks the configuration; opens no connection.
    pub fn new(cfg: S3Config) -> Result<S3> {
        let host = cfg
            .endpoint
            .strip_prefix("http://")
            .or_else(|| cfg.endpoint.strip_prefix("https://"))
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| {
                CoreError::invalid(format!(
                    "archive.endpoint {:?} must be http(s)://host[:port] with no path",
                    cfg.endpoint
                ))
            })?
            .to_owned();
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        if cfg.bucket.len() < 3 || !cfg.bucket.chars().all(ok) {
            return Err(CoreError::invalid(format!(
                "archive.bucket {:?} is not an S3 bucket name (3+ of a-z 0-9 . -)",
                cfg.bucket
            )));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(S3 { cfg, host, agent })
    }

    /// The endpoint and bucket, for messages.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.cfg.endpoint, self.cfg.bucket)
    }

    /// The signed headers of a request for `name` (already URL-safe).
    fn sign(&self, method: &str, name: &str, payload: &[u8], now_ms: u64) -> [(String, String); 3] {
        let (date, stamp) = amz_dates(now_ms);
        let payload_hash = hex(&Sha256::digest(payload));
        let path = format!("/{}/{name}", self.cfg.bucket);
        let canonical = format!(
            "{method}\n{path}\n\nhost:{}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{stamp}\n\n\
             host;x-amz-content-sha256;x-amz-date\n{payload_hash}",
            self.host
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.cfg.region);
        let to_sign =
            format!("AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}", hex(&Sha256::digest(canonical)));
        let mut key = hmac(format!("AWS4{}", self.cfg.secret_key).as_bytes(), &date);
        for part in [self.cfg.region.as_str(), "s3", "aws4_request"] {
            key = hmac(&key, part);
        }
        let signature = hex(&hmac(&key, &to_sign));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}",
            self.cfg.access_key
        );
        [
            ("x-amz-date".into(), stamp),
            ("x-amz-content-sha256".into(), payload_hash),
            ("authorization".into(), auth),
        ]
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.cfg.endpoint, self.cfg.bucket)
    }

    fn failed(&self, what: &str, name: &str, detail: &str) -> CoreError {
        CoreError::Unavailable(format!(
            "the archive store {} failed to {what} {name}: {detail}",
            self.describe()
        ))
    }

    fn check(
        &self,
        what: &str,
        name: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let body = resp.body_mut().with_config().limit(2048).read_to_string().unwrap_or_default();
        Err(self.failed(what, name, &format!("HTTP {status}: {}", body.trim())))
    }

    /// Uploads an object (replacing any of that name).
    pub fn put(&self, name: &str, body: &[u8], now_ms: u64) -> Result<()> {
        let mut req = self.agent.put(self.url(name));
        for (k, v) in self.sign("PUT", name, body, now_ms) {
            req = req.header(k, v);
        }
        let resp = req.send(body).map_err(|e| self.failed("store", name, &e.to_string()))?;
        self.check("store", name, resp).map(|_| ())
    }

    /// Downloads an object; `None` when the server has no object of that name.
    pub fn get(&self, name: &str, now_ms: u64) -> Result<Option<Vec<u8>>> {
        let mut req = self.agent.get(self.url(name));
        for (k, v) in self.sign("GET", name, b"", now_ms) {
            req = req.header(k, v);
        }
        let resp = req.call().map_err(|e| self.failed("fetch", name, &e.to_string()))?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let mut resp = self.check("fetch", name, resp)?;
        let body = resp.body_mut().with_config().limit(MAX_OBJECT_BYTES).read_to_vec();
        body.map(Some).map_err(|e| self.failed("fetch", name, &e.to_string()))
    }

    /// Deletes an object; one already gone is not an error.
    pub fn delete(&self, name: &str, now_ms: u64) -> Result<()> {
        let mut req = self.agent.delete(self.url(name));
        for (k, v) in self.sign("DELETE", name, b"", now_ms) {
            req = req.header(k, v);
        }
        let resp = req.call().map_err(|e| self.failed("delete", name, &e.to_string()))?;
        if resp.status().as_u16() == 404 {
            return Ok(());
        }
        self.check("delete", name, resp).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(amz_dates(0), ("19700101".into(), "19700101T000000Z".into()));
        // 2013-05-24T00:00:00Z, the date of AWS's published SigV4 examples.
        assert_eq!(amz_dates(1_369_353_600_000).1, "20130524T000000Z");
        assert_eq!(amz_dates(951_782_400_000 + 3_723_000).1, "20000229T010203Z");
    }

    /// The credentials and date of AWS's `SigV4` examples, path style; the expected
    /// signature was computed separately with Python's hmac and hashlib from the
    /// canonical request the `SigV4` specification defines. (The end-to-end tests
    /// check the signatures against a real S3 server that verifies them.)
    #[test]
    fn signature_matches_an_independent_computation() {
        let s3 = S3::new(S3Config {
            endpoint: "http://127.0.0.1:9000".into(),
            bucket: "examplebucket".into(),
            region: "us-east-1".into(),
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        let [date, hash, auth] = s3.sign("GET", "test.txt", b"", 1_369_353_600_000);
        assert_eq!(date.1, "20130524T000000Z");
        assert_eq!(hash.1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert!(auth.1.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        ));
        assert!(auth.1.ends_with(&format!("Signature={SIGNATURE_GET_TEST_TXT}")), "{}", auth.1);
    }

    const SIGNATURE_GET_TEST_TXT: &str =
        "ce4d526ef7af0aee7f6fe48a13ee5b628224b658d2833a36130ad362d6d3a9fa";

    #[test]
    fn rejects_bad_endpoints_and_buckets() {
        let cfg = |endpoint: &str, bucket: &str| S3Config {
            endpoint: endpoint.into(),
            bucket: bucket.into(),
            region: "us-east-1".into(),
            access_key: String::new(),
            secret_key: String::new(),
            timeout: Duration::from_secs(1),
        };
        assert!(S3::new(cfg("ftp://x", "bucket")).is_err());
        assert!(S3::new(cfg("http://x/path", "bucket")).is_err());
        assert!(S3::new(cfg("http://x:9000", "Bad_Bucket")).is_err());
        assert!(S3::new(cfg("https://x:9000", "good-bucket")).is_ok());
    }
}
