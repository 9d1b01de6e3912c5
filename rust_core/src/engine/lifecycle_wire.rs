//! `RunLifecycleResponse` encoded in Rust, with the GIL released.
//!
//! A pass over a large store reports up to 100 000 actions per call. Building them as
//! Python objects, then as protobuf messages, then serializing, took the daemon's
//! only interpreter for about a second per call while concurrent requests waited for
//! it (`bench/lifecycle_bench.py`: Retrieve fell to 0.63 x its idle rate at 100 000
//! memories). Here each field is written straight from the report, without an
//! intermediate message per action; the servicer returns the bytes as they are
//! (`RAW_REPLIES`).

use super::lifecycle::{LifecycleAction, LifecycleReport};
use prost::encoding::{self, WireType};

// A double is written when its bits are not all zero (so -0.0 is), as the generated
// Python classes write it.

/// Field numbers of `memd.v1.LifecycleAction`.
mod action_tag {
    pub const NAMESPACE: u32 = 1;
    pub const KEY: u32 = 2;
    pub const RULE: u32 = 3;
    pub const ACTION: u32 = 4;
    pub const FROM_TIER: u32 = 5;
    pub const TO_TIER: u32 = 6;
    pub const RETENTION: u32 = 7;
}

/// Field numbers of `memd.v1.RunLifecycleResponse` and `memd.v1.LifecycleCount`.
mod reply_tag {
    pub const ACTIONS: u32 = 1;
    pub const SCANNED: u32 = 2;
    pub const SKIPPED: u32 = 3;
    pub const MORE: u32 = 4;
    pub const DEMOTED_BY_CAPACITY: u32 = 5;
    pub const COUNTS: u32 = 6;
    pub const DRY_RUN: u32 = 7;
    pub const COUNT_RULE: u32 = 1;
    pub const COUNT_ACTION: u32 = 2;
    pub const COUNT_COUNT: u32 = 3;
}

/// Bytes of a string field, proto3: absent when empty.
fn str_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        encoding::key_len(tag) + encoding::encoded_len_varint(s.len() as u64) + s.len()
    }
}

fn put_str(tag: u32, s: &str, buf: &mut Vec<u8>) {
    if !s.is_empty() {
        encoding::encode_key(tag, WireType::LengthDelimited, buf);
        encoding::encode_varint(s.len() as u64, buf);
        buf.extend_from_slice(s.as_bytes());
    }
}

fn varint_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        encoding::key_len(tag) + encoding::encoded_len_varint(v)
    }
}

fn put_varint(tag: u32, v: u64, buf: &mut Vec<u8>) {
    if v != 0 {
        encoding::encode_key(tag, WireType::Varint, buf);
        encoding::encode_varint(v, buf);
    }
}

fn action_len(a: &LifecycleAction) -> usize {
    use action_tag as t;
    str_len(t::NAMESPACE, &a.namespace)
        + str_len(t::KEY, &a.key)
        + str_len(t::RULE, &a.rule)
        + str_len(t::ACTION, a.action)
        + varint_len(t::FROM_TIER, u64::from(a.from.number()))
        + varint_len(t::TO_TIER, u64::from(a.to.map_or(0, crate::model::Tier::number)))
        + if a.retention.to_bits() == 0 { 0 } else { encoding::key_len(t::RETENTION) + 8 }
}

fn put_action(a: &LifecycleAction, buf: &mut Vec<u8>) {
    use action_tag as t;
    put_str(t::NAMESPACE, &a.namespace, buf);
    put_str(t::KEY, &a.key, buf);
    put_str(t::RULE, &a.rule, buf);
    put_str(t::ACTION, a.action, buf);
    put_varint(t::FROM_TIER, u64::from(a.from.number()), buf);
    put_varint(t::TO_TIER, u64::from(a.to.map_or(0, crate::model::Tier::number)), buf);
    if a.retention.to_bits() != 0 {
        encoding::encode_key(t::RETENTION, WireType::SixtyFourBit, buf);
        buf.extend_from_slice(&a.retention.to_le_bytes());
    }
}

fn put_message(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encoding::encode_key(tag, WireType::LengthDelimited, buf);
    encoding::encode_varint(len as u64, buf);
}

impl LifecycleReport {
    /// This report as a serialized `memd.v1.RunLifecycleResponse` (`dry_run` echoes
    /// the request's flag), byte for byte what the generated Python classes write.
    pub fn encode_response(&self, dry_run: bool) -> Vec<u8> {
        use reply_tag as t;
        let lens: Vec<usize> = self.actions.iter().map(action_len).collect();
        let actions: usize = lens
            .iter()
            .map(|&n| encoding::key_len(t::ACTIONS) + encoding::encoded_len_varint(n as u64) + n)
            .sum();
        let mut buf = Vec::with_capacity(actions + 64 + 48 * self.counts.len());
        for (a, &n) in self.actions.iter().zip(&lens) {
            put_message(t::ACTIONS, n, &mut buf);
            put_action(a, &mut buf);
        }
        put_varint(t::SCANNED, self.scanned, &mut buf);
        put_varint(t::SKIPPED, self.skipped, &mut buf);
        put_varint(t::MORE, u64::from(self.more), &mut buf);
        put_varint(t::DEMOTED_BY_CAPACITY, self.demoted_by_capacity, &mut buf);
        for (rule, action, count) in &self.counts {
            let n = str_len(t::COUNT_RULE, rule)
                + str_len(t::COUNT_ACTION, action)
                + varint_len(t::COUNT_COUNT, *count);
            put_message(t::COUNTS, n, &mut buf);
            put_str(t::COUNT_RULE, rule, &mut buf);
            put_str(t::COUNT_ACTION, action, &mut buf);
            put_varint(t::COUNT_COUNT, *count, &mut buf);
        }
        put_varint(t::DRY_RUN, u64::from(dry_run), &mut buf);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;
    use prost::Message;

    /// `memd.v1.LifecycleAction` as prost would write it: the reference.
    #[derive(Clone, PartialEq, Message)]
    struct ActionPb {
        #[prost(string, tag = "1")]
        namespace: String,
        #[prost(string, tag = "2")]
        key: String,
        #[prost(string, tag = "3")]
        rule: String,
        #[prost(string, tag = "4")]
        action: String,
        #[prost(int32, tag = "5")]
        from_tier: i32,
        #[prost(int32, tag = "6")]
        to_tier: i32,
        #[prost(double, tag = "7")]
        retention: f64,
    }

    #[derive(Clone, PartialEq, Message)]
    struct CountPb {
        #[prost(string, tag = "1")]
        rule: String,
        #[prost(string, tag = "2")]
        action: String,
        #[prost(uint64, tag = "3")]
        count: u64,
    }

    #[derive(Clone, PartialEq, Message)]
    struct ReplyPb {
        #[prost(message, repeated, tag = "1")]
        actions: Vec<ActionPb>,
        #[prost(uint64, tag = "2")]
        scanned: u64,
        #[prost(uint64, tag = "3")]
        skipped: u64,
        #[prost(bool, tag = "4")]
        more: bool,
        #[prost(uint64, tag = "5")]
        demoted_by_capacity: u64,
        #[prost(message, repeated, tag = "6")]
        counts: Vec<CountPb>,
        #[prost(bool, tag = "7")]
        dry_run: bool,
    }

    fn action(key: &str, to: Option<Tier>, retention: f64) -> LifecycleAction {
        LifecycleAction {
            namespace: "agent:a/é".into(),
            key: key.into(),
            rule: "archive-stale".into(),
            action: if to.is_some() { "archive" } else { "delete" },
            from: Tier::LongTerm,
            to,
            retention,
        }
    }

    #[test]
    fn the_reply_is_what_prost_writes_for_the_same_message() {
        let long = "k".repeat(300); // a length that needs a two-byte varint
        let report = LifecycleReport {
            actions: vec![
                action("k1", Some(Tier::Archive), 0.25),
                action(&long, None, 0.0),
                action("", Some(Tier::Working), -1.5),
            ],
            scanned: 1 << 40,
            skipped: 0,
            more: true,
            demoted_by_capacity: 3,
            counts: vec![
                ("archive-stale".into(), "archive", 2),
                ("archive-stale".into(), "delete", 1),
            ],
        };
        for dry_run in [false, true] {
            let expected = ReplyPb {
                actions: report
                    .actions
                    .iter()
                    .map(|a| ActionPb {
                        namespace: a.namespace.clone(),
                        key: a.key.clone(),
                        rule: a.rule.clone(),
                        action: a.action.into(),
                        from_tier: i32::from(a.from.number()),
                        to_tier: i32::from(a.to.map_or(0, Tier::number)),
                        retention: a.retention,
                    })
                    .collect(),
                scanned: report.scanned,
                skipped: report.skipped,
                more: report.more,
                demoted_by_capacity: report.demoted_by_capacity,
                counts: report
                    .counts
                    .iter()
                    .map(|(r, a, n)| CountPb { rule: r.clone(), action: (*a).into(), count: *n })
                    .collect(),
                dry_run,
            };
            assert_eq!(report.encode_response(dry_run), expected.encode_to_vec());
        }
        assert_eq!(LifecycleReport::default().encode_response(false), Vec::<u8>::new());
    }
}
