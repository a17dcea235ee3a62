// SPDX-License-Identifier: MIT OR Apache-2.0
//! A tolerant `esds` reader (ISO/IEC 14496-14 §5.6: a full box holding an ES_Descriptor).
//!
//! Writers differ: descriptor lengths in 1 to 4 bytes (ISO/IEC 14496-1 §8.3.3 expandable
//! size: ffmpeg writes `80 80 80 NN`, others one byte), extra descriptors (IPI pointers,
//! language, profile-level indications) before or after the ones needed, no SLConfigDescriptor.
//! Only the DecoderConfigDescriptor's objectTypeIndication (§7.2.6.6) and the
//! DecoderSpecificInfo (§7.2.6.7) are needed; everything else is skipped by its length, as
//! ffmpeg's `ff_mp4_read_descr` does.

/// ES_DescrTag, DecoderConfigDescrTag, DecSpecificInfoTag (ISO/IEC 14496-1 §7.2.2.1 Table 1).
const ES_TAG: u8 = 0x03;
const DEC_CONFIG_TAG: u8 = 0x04;
const DSI_TAG: u8 = 0x05;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EsdsInfo {
    pub object_type: u8,
    /// DecoderSpecificInfo bytes (AudioSpecificConfig for AAC, VOS/VOL for MPEG-4 video).
    pub dsi: Option<Vec<u8>>,
}

/// One descriptor: tag, body, and the bytes after it.
fn descriptor(data: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, mut rest) = data.split_first().ok_or("descriptor cut short")?;
    let mut len = 0usize;
    // §8.3.3: up to four bytes, 7 bits each, high bit = more bytes follow.
    for i in 0..4 {
        let (&b, r) = rest
            .split_first()
            .ok_or_else(|| format!("descriptor 0x{tag:02x}: length cut short"))?;
        rest = r;
        len = (len << 7) | usize::from(b & 0x7F);
        if b & 0x80 == 0 {
            break;
        }
        if i == 3 {
            return Err(format!(
                "descriptor 0x{tag:02x}: length longer than 4 bytes"
            ));
        }
    }
    if len > rest.len() {
        return Err(format!(
            "descriptor 0x{tag:02x} of {len} bytes, only {} left in esds",
            rest.len()
        ));
    }
    let (body, after) = rest.split_at(len);
    Ok((tag, body, after))
}

/// The first descriptor `tag` in a list, skipping others.
fn find(mut data: &[u8], tag: u8) -> Result<Option<&[u8]>, String> {
    while !data.is_empty() {
        let (t, body, after) = descriptor(data)?;
        if t == tag {
            return Ok(Some(body));
        }
        data = after;
    }
    Ok(None)
}

/// Parses an `esds` payload (after the box header: version/flags, then descriptors).
pub(super) fn parse(payload: &[u8]) -> Result<EsdsInfo, String> {
    let descs = payload
        .get(4..)
        .ok_or("esds shorter than its version/flags")?;
    let es = find(descs, ES_TAG)?.ok_or("esds has no ES_Descriptor")?;
    // §7.2.6.5: ES_ID(16), flags(8), then optional fields the flags announce.
    let flags = *es.get(2).ok_or("ES_Descriptor cut short")?;
    let mut at = 3usize;
    if flags & 0x80 != 0 {
        at += 2; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        let url_len = *es.get(at).ok_or("ES_Descriptor URL cut short")?;
        at += 1 + usize::from(url_len);
    }
    if flags & 0x20 != 0 {
        at += 2; // OCR_ES_Id
    }
    let children = es.get(at..).ok_or("ES_Descriptor cut short")?;
    let dc = find(children, DEC_CONFIG_TAG)?.ok_or("esds has no DecoderConfigDescriptor")?;
    // §7.2.6.6: objectTypeIndication(8), streamType/upStream(8), bufferSizeDB(24),
    // maxBitrate(32), avgBitrate(32), then descriptors.
    let object_type = *dc.first().ok_or("DecoderConfigDescriptor is empty")?;
    let dsi = match dc.get(13..) {
        Some(rest) => find(rest, DSI_TAG)?.map(<[u8]>::to_vec),
        None => None,
    };
    Ok(EsdsInfo { object_type, dsi })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor with its length in `width` bytes (1 to 4).
    fn desc(tag: u8, body: &[u8], width: usize) -> Vec<u8> {
        let mut v = vec![tag];
        for i in (0..width).rev() {
            let b = ((body.len() >> (7 * i)) & 0x7F) as u8;
            v.push(if i > 0 { b | 0x80 } else { b });
        }
        v.extend_from_slice(body);
        v
    }

    fn esds(width: usize, extra: bool, dsi: bool, sl: bool) -> Vec<u8> {
        let mut dc = vec![0x40, 0x15, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
        if extra {
            dc.extend(desc(0x14, &[1], width)); // ProfileLevelIndicationIndexDescriptor
        }
        if dsi {
            dc.extend(desc(DSI_TAG, &[0x11, 0x90], width));
        }
        let mut es = vec![0, 1, 0];
        if extra {
            es.extend(desc(0x0A, b"eng", width)); // a language descriptor before
        }
        es.extend(desc(DEC_CONFIG_TAG, &dc, width));
        if sl {
            es.extend(desc(0x06, &[2], width));
        }
        let mut v = vec![0, 0, 0, 0];
        v.extend(desc(ES_TAG, &es, width));
        v
    }

    #[test]
    fn variants() {
        let aac = Ok(EsdsInfo {
            object_type: 0x40,
            dsi: Some(vec![0x11, 0x90]),
        });
        let cases: &[(&str, Vec<u8>, Result<EsdsInfo, String>)] = &[
            ("1-byte lengths", esds(1, false, true, true), aac.clone()),
            ("2-byte lengths", esds(2, false, true, true), aac.clone()),
            (
                "4-byte lengths (80 80 80 NN)",
                esds(4, false, true, true),
                aac.clone(),
            ),
            ("extra descriptors", esds(4, true, true, true), aac.clone()),
            ("no SLConfig", esds(1, false, true, false), aac.clone()),
            (
                "no DecSpecificInfo",
                esds(1, false, false, true),
                Ok(EsdsInfo {
                    object_type: 0x40,
                    dsi: None,
                }),
            ),
            (
                "5-byte length",
                vec![0, 0, 0, 0, 3, 0x80, 0x80, 0x80, 0x80, 0],
                Err("descriptor 0x03: length longer than 4 bytes".into()),
            ),
            (
                "length past the end",
                vec![0, 0, 0, 0, 3, 9, 0, 1],
                Err("descriptor 0x03 of 9 bytes, only 2 left in esds".into()),
            ),
            (
                "empty",
                vec![0, 0, 0, 0],
                Err("esds has no ES_Descriptor".into()),
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(&parse(input), want, "{name}");
        }
    }
}
