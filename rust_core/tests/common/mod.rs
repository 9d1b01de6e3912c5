//! Helpers shared by the integration tests: small engines on temp directories.
#![allow(dead_code)]

pub mod vectors;

use memd_core::{Engine, EngineConfig, RawMemory, TierConfig};
use std::path::Path;

/// Capacities 3 / 5 / 8 / unbounded, no TTLs.
pub fn small_config() -> EngineConfig {
    let tier = |capacity| TierConfig { capacity, default_ttl_ms: 0 };
    EngineConfig {
        map_size: 64 << 20,
        tiers: [tier(3), tier(5), tier(8), tier(0)],
        ..EngineConfig::default()
    }
}

pub fn open(dir: &Path, cfg: EngineConfig) -> Engine {
    Engine::open(dir, cfg).expect("open")
}

pub fn item(key: &str, tier: i128) -> RawMemory {
    RawMemory {
        key: key.into(),
        text: format!("text of {key}"),
        value: key.repeat(20).into_bytes(),
        tier,
        ..RawMemory::default()
    }
}

pub fn put(e: &Engine, key: &str, tier: i128, now: u64) {
    let r = e.put_many("ns", vec![item(key, tier)], now, true).expect("put");
    assert!(r[0].error.is_none());
}

/// Keys per tier (WORKING..ARCHIVE), each sorted.
pub fn layout(e: &Engine, now: u64) -> Vec<Vec<String>> {
    let mut tiers = vec![Vec::new(); 4];
    let q =
        memd_core::ListQuery { ns: "ns".into(), now_ms: now, limit: 10_000, ..Default::default() };
    for m in e.list(&q).expect("list").0 {
        tiers[m.header.tier.index()].push(m.key);
    }
    tiers
}

pub fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}
