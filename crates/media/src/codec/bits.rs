// SPDX-License-Identifier: MIT OR Apache-2.0
//! MSB-first bit reader with Exp-Golomb codes (ISO/IEC 14496-10 9.1, ITU-T H.265 9.2), shared by
//! the H.264, HEVC, AAC and AC-3 header parsers. Every read is bounds-checked and reports the bit
//! position where the data ran out.

pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Bits consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Bits not yet consumed.
    pub(crate) fn bits_left(&self) -> usize {
        self.data.len().saturating_mul(8).saturating_sub(self.pos)
    }

    fn eof(&self, what: &str, n: usize) -> String {
        format!(
            "truncated reading {what} ({n} bits at bit {} of {})",
            self.pos,
            self.data.len().saturating_mul(8)
        )
    }

    /// Reads one bit.
    pub(crate) fn bit(&mut self, what: &str) -> Result<u32, String> {
        let byte = self
            .data
            .get(self.pos / 8)
            .copied()
            .ok_or_else(|| self.eof(what, 1))?;
        let shift = 7 - (self.pos % 8);
        self.pos += 1;
        Ok(u32::from((byte >> shift) & 1))
    }

    pub(crate) fn flag(&mut self, what: &str) -> Result<bool, String> {
        Ok(self.bit(what)? == 1)
    }

    /// Reads `n` (≤ 32) bits, most significant first.
    pub(crate) fn bits(&mut self, n: u32, what: &str) -> Result<u32, String> {
        if n > 32 {
            return Err(format!("cannot read {n} bits at once ({what})"));
        }
        if self.bits_left() < n as usize {
            return Err(self.eof(what, n as usize));
        }
        let mut v: u64 = 0;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit(what)?);
        }
        // n ≤ 32, so the value fits.
        Ok(u32::try_from(v).unwrap_or(u32::MAX))
    }

    /// Reads `n` (≤ 8) bits as a byte.
    pub(crate) fn u8(&mut self, n: u32, what: &str) -> Result<u8, String> {
        if n > 8 {
            return Err(format!("cannot read {n} bits into a byte ({what})"));
        }
        Ok(u8::try_from(self.bits(n, what)?).unwrap_or(u8::MAX))
    }

    pub(crate) fn skip(&mut self, n: usize, what: &str) -> Result<(), String> {
        if self.bits_left() < n {
            return Err(self.eof(what, n));
        }
        self.pos += n;
        Ok(())
    }

    /// Advances to the next byte boundary.
    pub(crate) fn byte_align(&mut self) {
        let rem = self.pos % 8;
        if rem != 0 {
            self.pos = self.pos.saturating_add(8 - rem);
        }
    }

    /// ue(v): unsigned Exp-Golomb code (ISO/IEC 14496-10 9.1). Values above `u32::MAX - 1`
    /// (more than 31 leading zeros) are rejected.
    pub(crate) fn ue(&mut self, what: &str) -> Result<u32, String> {
        let mut zeros = 0u32;
        while self.bit(what)? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(format!(
                    "Exp-Golomb code for {what} too long at bit {}",
                    self.pos
                ));
            }
        }
        let rest = self.bits(zeros, what)?;
        let v = (1u64 << zeros) - 1 + u64::from(rest);
        u32::try_from(v).map_err(|_| format!("Exp-Golomb value for {what} out of range"))
    }

    /// ue(v) that must not exceed `max` (semantic range from the spec).
    pub(crate) fn ue_max(&mut self, max: u32, what: &str) -> Result<u32, String> {
        let v = self.ue(what)?;
        if v > max {
            return Err(format!("{what} = {v} exceeds maximum {max}"));
        }
        Ok(v)
    }

    /// se(v): signed Exp-Golomb code (ISO/IEC 14496-10 9.1.1).
    pub(crate) fn se(&mut self, what: &str) -> Result<i32, String> {
        let k = i64::from(self.ue(what)?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        i32::try_from(v).map_err(|_| format!("signed Exp-Golomb value for {what} out of range"))
    }
}

/// MSB-first bit writer for building test bitstreams (parameter sets, headers).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

#[cfg(test)]
impl BitWriter {
    /// Appends the low `n` bits of `v` (bits above 64 are zero).
    pub(crate) fn put(&mut self, n: u32, v: u64) -> &mut Self {
        for i in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if i < 64 && (v >> i) & 1 == 1 {
                let last = self.bytes.last_mut().expect("pushed above");
                *last |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
        self
    }

    pub(crate) fn flag(&mut self, b: bool) -> &mut Self {
        self.put(1, u64::from(b))
    }

    pub(crate) fn ue(&mut self, v: u32) -> &mut Self {
        let x = u64::from(v) + 1;
        let len = 64 - x.leading_zeros();
        self.put(len - 1, 0).put(len, x)
    }

    pub(crate) fn se(&mut self, v: i32) -> &mut Self {
        let k = if v > 0 {
            2 * i64::from(v) - 1
        } else {
            -2 * i64::from(v)
        };
        self.ue(u32::try_from(k).expect("small test values"))
    }

    /// rbsp_trailing_bits: a one bit, then zeros to the byte boundary.
    pub(crate) fn trailing(&mut self) -> &mut Self {
        self.put(1, 1);
        while !self.bits.is_multiple_of(8) {
            self.put(1, 0);
        }
        self
    }

    /// Bits written so far.
    pub(crate) fn bit_len(&self) -> usize {
        self.bits
    }

    /// Zero bits to the byte boundary (AV1 byte_alignment(), §5.3.5).
    pub(crate) fn align(&mut self) -> &mut Self {
        while !self.bits.is_multiple_of(8) {
            self.put(1, 0);
        }
        self
    }

    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// `header` followed by the payload with emulation-prevention bytes inserted
    /// (ISO/IEC 14496-10 7.4.1).
    pub(crate) fn nal(&self, header: &[u8]) -> Vec<u8> {
        let mut out = header.to_vec();
        let mut zeros = 0;
        for &b in &self.bytes {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_and_exp_golomb() {
        // 1 | 010 | 011 | 00100 | 00101 | 1010 ...
        // ue: "1"=0, "010"=1, "011"=2, "00100"=3, "00101"=4
        let data = [0b1010_0110, 0b0100_0010, 0b1101_0000];
        let mut r = BitReader::new(&data);
        assert_eq!(r.ue("a").unwrap(), 0);
        assert_eq!(r.ue("b").unwrap(), 1);
        assert_eq!(r.ue("c").unwrap(), 2);
        assert_eq!(r.ue("d").unwrap(), 3);
        assert_eq!(r.se("e").unwrap(), -2);
        assert_eq!(r.bits(3, "f").unwrap(), 0b101);
        assert_eq!(r.bits_left(), 4);
        assert!(r.bits(5, "g").is_err());
        r.byte_align();
        assert_eq!(r.bits_left(), 0);
        assert!(r.bit("h").is_err());
    }

    #[test]
    fn writer_round_trips() {
        let mut w = BitWriter::default();
        w.ue(0)
            .ue(7)
            .se(-3)
            .se(5)
            .put(13, 0x1234)
            .flag(true)
            .ue(65535);
        let data = w.bytes();
        let mut r = BitReader::new(&data);
        assert_eq!(r.ue("a").unwrap(), 0);
        assert_eq!(r.ue("b").unwrap(), 7);
        assert_eq!(r.se("c").unwrap(), -3);
        assert_eq!(r.se("d").unwrap(), 5);
        assert_eq!(r.bits(13, "e").unwrap(), 0x1234);
        assert!(r.flag("f").unwrap());
        assert_eq!(r.ue("g").unwrap(), 65535);
    }

    #[test]
    fn se_mapping() {
        // codeNum 1 → 1, 2 → -1, 3 → 2 (Table 9-3)
        for (bits, want) in [(&[0b0100_0000u8][..], 1), (&[0b0110_0000][..], -1)] {
            assert_eq!(BitReader::new(bits).se("x").unwrap(), want);
        }
        assert_eq!(BitReader::new(&[0b0010_0000]).se("x").unwrap(), 2);
    }

    #[test]
    fn rejects_overlong_codes_and_wide_reads() {
        assert!(BitReader::new(&[0; 8]).ue("x").is_err());
        assert!(BitReader::new(&[0xFF; 8]).bits(33, "x").is_err());
        assert_eq!(BitReader::new(&[0xFF; 4]).bits(32, "x").unwrap(), u32::MAX);
        // 32 leading zeros then a one would be 2^32 - 1 + rest: rejected, not wrapped.
        assert!(BitReader::new(&[0, 0, 0, 0, 0x80, 0, 0, 0, 0])
            .ue("x")
            .is_err());
    }
}
