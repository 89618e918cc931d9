//! Codec throughput: decode and encode of a typical 0200 authorization in each built-in spec, and
//! decode of the whole cross-implementation vector files. Allocations per message are counted once
//! per case and printed before the timings.
//!
//! Run: `cargo bench --bench codec`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use iso8583_client::spec::BUILTIN_SPECS;
use iso8583_client::{Message, Spec};

/// A typical 0200 purchase: DE 2, 3, 4, 7, 11, 12, 13, 14, 18, 22, 25, 35, 37, 41, 42, 49.
fn authorization() -> Message {
    let mut m = Message::new("0200".parse().unwrap());
    m.set(2, "4761739001010119")
        .set(3, "000000")
        .set(4, "000000012550")
        .set(7, "1127203015")
        .set(11, "004211")
        .set(12, "203015")
        .set(13, "1127")
        .set(14, "2812")
        .set(18, "5411")
        .set(22, "051")
        .set(25, "00")
        .set(35, "4761739001010119=28122011143857589")
        .set(37, "733120004211")
        .set(41, "TERM0001")
        .set(42, "MERCHANT0000001")
        .set(49, "840");
    m
}

fn allocations<R>(f: impl FnOnce() -> R) -> u64 {
    let info = allocation_counter::measure(|| {
        black_box(f());
    });
    info.count_total
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn vector_file(name: &str) -> Vec<Bytes> {
    let path = format!("{}/fixtures/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Bytes::from(unhex(v["hex"].as_str().unwrap()))
        })
        .collect()
}

fn bench_authorization(c: &mut Criterion) {
    let msg = authorization();
    // The 1987 built-ins (the 0200 above is a 1987 message).
    for name in BUILTIN_SPECS.iter().filter(|n| n.starts_with("iso87")) {
        let spec = Spec::builtin(name).unwrap();
        let wire = spec.encode(&msg).unwrap();
        let owned = wire.to_vec();
        eprintln!(
            "{name}: 0200 is {} bytes; allocations per decode from &[u8]: {}, from Bytes: {}, per encode: {}, per encode_into a reused buffer: {}",
            wire.len(),
            allocations(|| spec.decode(&owned).unwrap()),
            allocations(|| spec.decode_bytes(wire.clone()).unwrap()),
            allocations(|| spec.encode(&msg).unwrap()),
            {
                let mut buf = BytesMut::with_capacity(1024);
                let (spec, msg) = (&spec, &msg);
                allocations(move || {
                    spec.encode_into(msg, &mut buf).unwrap();
                    buf.clear();
                })
            }
        );
        let spec = Spec::builtin(name).unwrap();
        let mut g = c.benchmark_group(format!("0200/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("decode", |b| b.iter(|| spec.decode(black_box(&owned)).unwrap()));
        g.bench_function("decode_bytes", |b| {
            b.iter(|| spec.decode_bytes(black_box(wire.clone())).unwrap())
        });
        g.bench_function("encode", |b| b.iter(|| spec.encode(black_box(&msg)).unwrap()));
        let mut buf = BytesMut::with_capacity(1024);
        g.bench_function("encode_into", |b| {
            b.iter(|| {
                buf.clear();
                spec.encode_into(black_box(&msg), &mut buf).unwrap();
            })
        });
        g.finish();
    }
}

/// Reading every tag of a 15-tag EMV DE 55 (parsed on demand from the decoded message).
fn bench_de55(c: &mut Criterion) {
    const ICC: &str = concat!(
        "9F26087A6F1B2C8D1E4F55",
        "9F270180",
        "9F10120110A00003220000000000000000000000FF",
        "9F37042E4D7F11",
        "9F3602000E",
        "950500000080 00",
        "9A03261201",
        "9C0100",
        "9F0206000000001000",
        "5F2A020978",
        "82025800",
        "9F1A020250",
        "9F3303E0F8C8",
        "9F34031E0300",
        "9F350122"
    );
    let icc = unhex(&ICC.replace(' ', ""));
    let spec = Spec::builtin("iso87-ascii-binary-bitmap").unwrap();
    let msg = spec
        .decode(&spec.encode(&authorization().with(55, icc)).unwrap())
        .unwrap();
    assert_eq!(msg.parts(55).unwrap().len(), 15);
    eprintln!(
        "de55: allocations to read 15 tags: {}",
        allocations(|| msg.parts(55).unwrap().iter().map(|p| p.value().len()).sum::<usize>())
    );
    let mut g = c.benchmark_group("de55");
    g.throughput(Throughput::Elements(15));
    g.bench_function("read_15_tags", |b| {
        b.iter(|| {
            let parts = black_box(&msg).parts(55).unwrap();
            parts.iter().map(|p| p.value().len()).sum::<usize>()
        })
    });
    g.bench_function("get_path", |b| {
        b.iter(|| black_box(&msg).get_path(black_box("55.9F36")).unwrap())
    });
    g.finish();
}

fn bench_vectors(c: &mut Criterion) {
    for (file, name) in [
        ("default_ascii.jsonl", "iso87-ascii"),
        ("default.jsonl", "iso87-ascii-binary-bitmap"),
        ("bcd.jsonl", "iso87-bcd"),
    ] {
        let spec = Spec::builtin(name).unwrap();
        let frames = vector_file(file);
        let total: u64 = frames
            .iter()
            .map(|f| allocations(|| spec.decode_bytes(f.clone()).unwrap()))
            .sum();
        eprintln!(
            "{file}: {} messages, {:.2} allocations per decode",
            frames.len(),
            total as f64 / frames.len() as f64
        );
        let mut g = c.benchmark_group(format!("vectors/{file}"));
        g.throughput(Throughput::Elements(frames.len() as u64));
        g.bench_function("decode_all", |b| {
            b.iter_batched(
                || frames.clone(),
                |frames| {
                    for f in frames {
                        black_box(spec.decode_bytes(f).unwrap());
                    }
                },
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench_authorization, bench_de55, bench_vectors
}
criterion_main!(benches);
