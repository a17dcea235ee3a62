// SPDX-License-Identifier: MIT OR Apache-2.0
//! A minimal AMF0 decoder (Adobe "Action Message Format -- AMF 0", 2007, §2) for FLV script
//! data tags, and the `onMetaData` fields the demuxer uses (Adobe FLV spec v10.1 E.5;
//! Enhanced RTMP v2 "Enhancing onMetaData"). Nesting depth and element counts are bounded by
//! the input: every element costs at least one byte, so nothing is allocated ahead of data.

use std::collections::BTreeMap;

/// Nesting deeper than this is refused (objects inside arrays inside objects ...).
const MAX_DEPTH: usize = 16;

/// One AMF0 value (the types FLV metadata uses).
#[derive(Debug, Clone, PartialEq)]
pub enum AmfValue {
    Number(f64),
    Bool(bool),
    String(String),
    /// Object (0x03) or ECMA array (0x08): named properties in order.
    Object(Vec<(String, AmfValue)>),
    StrictArray(Vec<AmfValue>),
    /// Milliseconds since the epoch (the time-zone field is ignored, §2.13).
    Date(f64),
    Null,
    Undefined,
}

impl AmfValue {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            AmfValue::Number(n) => Some(*n),
            AmfValue::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            AmfValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// A property of an object or ECMA array.
    pub fn get(&self, name: &str) -> Option<&AmfValue> {
        match self {
            AmfValue::Object(props) => props.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Reads AMF0 values from a byte slice.
pub(super) struct AmfReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> AmfReader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        AmfReader { data, pos: 0 }
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(format!(
                "AMF0: {n} bytes needed at byte {} of {}",
                self.pos,
                self.data.len()
            ));
        };
        let out = self.data.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_be_bytes(a))
    }

    /// UTF-8 (§1.3 "UTF-8-empty"): invalid sequences are replaced, not refused.
    fn string(&mut self, len: usize) -> Result<String, String> {
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    /// The next value (§2.1 type markers).
    pub(super) fn value(&mut self) -> Result<AmfValue, String> {
        self.value_at(0)
    }

    fn value_at(&mut self, depth: usize) -> Result<AmfValue, String> {
        if depth > MAX_DEPTH {
            return Err(format!("AMF0: nested deeper than {MAX_DEPTH} levels"));
        }
        let at = self.pos;
        let marker = self.u8()?;
        Ok(match marker {
            0x00 => AmfValue::Number(self.f64()?),
            0x01 => AmfValue::Bool(self.u8()? != 0),
            0x02 => {
                let len = usize::from(self.u16()?);
                AmfValue::String(self.string(len)?)
            }
            0x03 => AmfValue::Object(self.properties(depth)?),
            0x05 => AmfValue::Null,
            0x06 => AmfValue::Undefined,
            0x08 => {
                // §2.10: the count is advisory; properties run to the object-end marker.
                self.u32()?;
                AmfValue::Object(self.properties(depth)?)
            }
            0x0A => {
                let count = self.u32()?;
                let mut items = Vec::new();
                for _ in 0..count {
                    if self.at_end() {
                        return Err(format!(
                            "AMF0: strict array at byte {at} ends before its {count} elements"
                        ));
                    }
                    items.push(self.value_at(depth + 1)?);
                }
                AmfValue::StrictArray(items)
            }
            0x0B => {
                let ms = self.f64()?;
                self.u16()?; // time-zone, reserved (§2.13)
                AmfValue::Date(ms)
            }
            0x0C => {
                let len = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
                AmfValue::String(self.string(len)?)
            }
            other => {
                return Err(format!(
                    "AMF0: unsupported type marker {other:#04x} at byte {at}"
                ))
            }
        })
    }

    /// Properties up to the empty name + object-end marker 0x09 (§2.5).
    fn properties(&mut self, depth: usize) -> Result<Vec<(String, AmfValue)>, String> {
        let mut props = Vec::new();
        loop {
            let len = usize::from(self.u16()?);
            if len == 0 && self.data.get(self.pos) == Some(&0x09) {
                self.pos += 1;
                return Ok(props);
            }
            let name = self.string(len)?;
            let value = self.value_at(depth + 1)?;
            props.push((name, value));
        }
    }
}

/// What `onMetaData` says about the stream (all optional: encoders differ).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub framerate: Option<f64>,
    /// Legacy codec id (7 = AVC) or, with Enhanced RTMP, a FourCC as a number.
    pub video_codec_id: Option<f64>,
    /// Legacy sound format (10 = AAC, 2 = MP3) or a FourCC as a number.
    pub audio_codec_id: Option<f64>,
    pub audio_sample_rate: Option<f64>,
    pub stereo: Option<bool>,
    pub duration: Option<f64>,
    pub encoder: Option<String>,
    /// Every top-level property, numbers and strings only (for logs and diagnostics).
    pub fields: BTreeMap<String, String>,
}

impl Metadata {
    fn from_object(props: &[(String, AmfValue)]) -> Self {
        let mut m = Metadata::default();
        for (name, value) in props {
            let num = value.as_number();
            match name.as_str() {
                "width" => m.width = num,
                "height" => m.height = num,
                "framerate" | "videoframerate" => m.framerate = num,
                "videocodecid" => m.video_codec_id = num.or_else(|| fourcc_number(value)),
                "audiocodecid" => m.audio_codec_id = num.or_else(|| fourcc_number(value)),
                "audiosamplerate" => m.audio_sample_rate = num,
                "stereo" => m.stereo = num.map(|n| n != 0.0),
                "duration" => m.duration = num,
                "encoder" => m.encoder = value.as_str().map(str::to_owned),
                _ => {}
            }
            let text = match value {
                AmfValue::Number(n) => Some(n.to_string()),
                AmfValue::Bool(b) => Some(b.to_string()),
                AmfValue::String(s) => Some(s.clone()),
                _ => None,
            };
            if let Some(text) = text {
                m.fields.insert(name.clone(), text);
            }
        }
        m
    }

    /// Whether the metadata announces a video / audio stream.
    pub(super) fn announces_video(&self) -> bool {
        self.video_codec_id.is_some_and(|c| c != 0.0)
    }

    pub(super) fn announces_audio(&self) -> bool {
        self.audio_codec_id.is_some()
    }
}

/// Some encoders write the codec id as a FourCC string ("hvc1").
fn fourcc_number(value: &AmfValue) -> Option<f64> {
    let s = value.as_str()?.as_bytes();
    let b: [u8; 4] = s.try_into().ok()?;
    Some(f64::from(u32::from_be_bytes(b)))
}

/// A script data tag body: `onMetaData` (FLV spec E.5) or `@setDataFrame` + `onMetaData` (as
/// RTMP publishers send it, RTMP spec 7.1.2). `Ok(None)` for other script data (cue points).
pub(super) fn parse_script(body: &[u8]) -> Result<Option<Metadata>, String> {
    let mut r = AmfReader::new(body);
    let mut name = r.value()?;
    if name.as_str() == Some("@setDataFrame") {
        name = r.value()?;
    }
    if name.as_str() != Some("onMetaData") {
        return Ok(None);
    }
    match r.value()? {
        AmfValue::Object(props) => Ok(Some(Metadata::from_object(&props))),
        other => Err(format!(
            "onMetaData carries {} instead of an object",
            type_name(&other)
        )),
    }
}

fn type_name(v: &AmfValue) -> &'static str {
    match v {
        AmfValue::Number(_) => "a number",
        AmfValue::Bool(_) => "a boolean",
        AmfValue::String(_) => "a string",
        AmfValue::Object(_) => "an object",
        AmfValue::StrictArray(_) => "a strict array",
        AmfValue::Date(_) => "a date",
        AmfValue::Null => "null",
        AmfValue::Undefined => "undefined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Vec<u8> {
        let mut out = vec![0x02];
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
        out
    }

    fn key(k: &str) -> Vec<u8> {
        s(k)[1..].to_vec()
    }

    fn num(n: f64) -> Vec<u8> {
        let mut out = vec![0x00];
        out.extend_from_slice(&n.to_be_bytes());
        out
    }

    fn ecma(props: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![0x08];
        out.extend_from_slice(&(props.len() as u32).to_be_bytes());
        for (k, v) in props {
            out.extend(key(k));
            out.extend_from_slice(v);
        }
        out.extend_from_slice(&[0, 0, 9]);
        out
    }

    #[test]
    fn values_table() {
        let mut date = vec![0x0B];
        date.extend_from_slice(&1.5e12f64.to_be_bytes());
        date.extend_from_slice(&[0, 0]);
        let mut long = vec![0x0C, 0, 0, 0, 2];
        long.extend_from_slice(b"hi");
        let mut obj = vec![0x03];
        obj.extend(key("a"));
        obj.extend(num(1.0));
        obj.extend_from_slice(&[0, 0, 9]);
        let strict = [vec![0x0A, 0, 0, 0, 2], num(2.0), vec![0x05]].concat();
        let cases: Vec<(Vec<u8>, Result<AmfValue, &str>)> = vec![
            (num(29.97), Ok(AmfValue::Number(29.97))),
            (vec![0x01, 1], Ok(AmfValue::Bool(true))),
            (s("x"), Ok(AmfValue::String("x".into()))),
            (vec![0x05], Ok(AmfValue::Null)),
            (vec![0x06], Ok(AmfValue::Undefined)),
            (date, Ok(AmfValue::Date(1.5e12))),
            (long, Ok(AmfValue::String("hi".into()))),
            (
                obj,
                Ok(AmfValue::Object(vec![("a".into(), AmfValue::Number(1.0))])),
            ),
            (
                strict,
                Ok(AmfValue::StrictArray(vec![
                    AmfValue::Number(2.0),
                    AmfValue::Null,
                ])),
            ),
            (vec![0x00, 1, 2], Err("8 bytes needed")),
            (vec![0x11], Err("unsupported type marker 0x11")),
            (vec![0x0A, 0xFF, 0xFF, 0xFF, 0xFF], Err("ends before")),
            (vec![0x03, 0, 1, b'a'], Err("bytes needed")),
            (vec![0x02, 0, 9, b'a'], Err("9 bytes needed")),
        ];
        for (bytes, want) in cases {
            let got = AmfReader::new(&bytes).value();
            match (&got, &want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{bytes:02x?}"),
                (Err(g), Err(w)) => assert!(g.contains(w), "{g} vs {w}"),
                _ => panic!("{bytes:02x?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn depth_is_bounded() {
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
        }
        deep.push(0x05);
        let err = AmfReader::new(&deep).value().unwrap_err();
        assert!(err.contains("nested deeper"), "{err}");
    }

    #[test]
    fn on_metadata_plain_and_set_data_frame() {
        let meta = ecma(&[
            ("width", num(1280.0)),
            ("height", num(720.0)),
            ("framerate", num(30.0)),
            ("videocodecid", num(7.0)),
            ("audiocodecid", s("mp4a")),
            ("stereo", vec![0x01, 1]),
            ("encoder", s("Lavf59")),
        ]);
        let plain = [s("onMetaData"), meta.clone()].concat();
        let wrapped = [s("@setDataFrame"), s("onMetaData"), meta].concat();
        for body in [plain, wrapped] {
            let m = parse_script(&body).unwrap().unwrap();
            assert_eq!(m.width, Some(1280.0));
            assert_eq!(m.height, Some(720.0));
            assert_eq!(m.framerate, Some(30.0));
            assert_eq!(m.video_codec_id, Some(7.0));
            assert_eq!(
                m.audio_codec_id,
                Some(f64::from(u32::from_be_bytes(*b"mp4a")))
            );
            assert_eq!(m.stereo, Some(true));
            assert_eq!(m.encoder.as_deref(), Some("Lavf59"));
            assert_eq!(m.fields.get("width").map(String::as_str), Some("1280"));
        }
        assert_eq!(
            parse_script(&[s("onCuePoint"), num(1.0)].concat()),
            Ok(None)
        );
        let err = parse_script(&[s("onMetaData"), num(1.0)].concat()).unwrap_err();
        assert!(err.contains("a number instead of an object"), "{err}");
    }
}
