//! XOR chunks and CRC32C frames.

use super::*;

// ---------------------------------------------------------------------------------------
// XOR chunks and frames

/// How the next sample's value relates to the previous one: the encoder has a branch
/// for each (same value, XOR inside the previous window, a new window).
#[derive(Debug, Clone)]
enum NextValue {
    Bits(u64),
    Same,
    FlipBit(u8),
}

fn xor_samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    // Strictly increasing times: deltas of every width class of the delta-of-delta code.
    let delta = prop_oneof![
        1..=100i64,
        Just(15_000i64),
        1..=(1i64 << 20),
        1..=(1i64 << 40),
    ];
    let next = prop_oneof![
        any::<u64>().prop_map(NextValue::Bits),
        Just(NextValue::Same),
        any::<u8>().prop_map(NextValue::FlipBit),
        Just(NextValue::Bits(STALE_NAN_BITS)),
        Just(NextValue::Bits(f64::NAN.to_bits())),
        Just(NextValue::Bits(1)),
        Just(NextValue::Bits((-0.0f64).to_bits())),
    ];
    (
        -(1i64 << 50)..(1i64 << 50),
        prop::collection::vec((delta, next), 0..300),
    )
        .prop_map(|(start, steps)| {
            let (mut t, mut bits) = (start, 0u64);
            let mut samples = Vec::with_capacity(steps.len());
            for (i, (delta, next)) in steps.into_iter().enumerate() {
                if i > 0 {
                    t += delta;
                }
                bits = match next {
                    NextValue::Bits(b) => b,
                    NextValue::Same => bits,
                    NextValue::FlipBit(k) => bits ^ (1 << (k % 64)),
                };
                samples.push((t, f64::from_bits(bits)));
            }
            samples
        })
}

/// A frame header whose length is anything, near the top of u64 included.
fn frame_input() -> impl Strategy<Value = Vec<u8>> {
    let length = prop_oneof![any::<u64>(), (0u64..8).prop_map(|k| u64::MAX - k), 0u64..64,];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (length, prop::collection::vec(any::<u8>(), 0..16)).prop_map(|(len, rest)| {
            let mut input = uvarint(len);
            input.extend_from_slice(&rest);
            input
        }),
    ]
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a remote read answer could carry different times or values than were
    /// read (NaN payloads and the staleness marker included: a staleness marker read back
    /// as an ordinary NaN changes PromQL's answers).
    #[test]
    fn xor_chunks_give_back_what_was_appended(samples in xor_samples()) {
        let mut chunk = XorChunk::new();
        for &(t, v) in &samples {
            chunk.append(t, v);
        }
        prop_assert_eq!(chunk.len(), samples.len());
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            prop_assert_eq!((chunk.min_time, chunk.max_time), (first.0, last.0));
        }
        let decoded = chunks::decode_xor(&chunk.take())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let bits = |s: &[(i64, f64)]| s.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>();
        prop_assert_eq!(bits(&decoded[..]), bits(&samples[..]));
    }

    /// Without it: streamed answers could be framed so that a client reads another
    /// length or checksum than was written, and drops the answer.
    #[test]
    fn frames_give_back_their_data(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4),
    ) {
        let stream: Vec<u8> = payloads.iter().flat_map(|p| chunks::frame(p).to_vec()).collect();
        let mut rest = &stream[..];
        for payload in &payloads {
            let (data, next) = chunks::read_frame(rest)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(data, &payload[..]);
            rest = next;
        }
        prop_assert!(rest.is_empty());
    }

    /// Without it: a frame with a hostile length could panic the reader (the test
    /// support's and the load generator's reader of streamed answers).
    #[test]
    fn read_frame_never_panics(input in frame_input()) {
        let _ = chunks::read_frame(&input);
    }

    /// Without it: a corrupt chunk could panic its decoder (used to read streamed
    /// answers in tests and in the load generator) instead of being an error.
    #[test]
    fn decode_xor_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = chunks::decode_xor(&bytes);
    }
}
