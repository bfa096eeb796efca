//! Photos that simulated customers send: real pictures of a sensible size (a parcel on a table,
//! its colours varied per photo), made here as PNG so the simulator needs no image files or
//! image libraries. The pixels go out uncompressed (zlib "stored" blocks): a photo is ~130 KB,
//! well under WhatsApp's 5 MB image limit.

/// Width and height of [`photo_png`] in pixels.
pub const PHOTO_SIZE: (u32, u32) = (240, 180);

/// A 240×180 PNG of a parcel; `seed` varies its colours, so two photos differ.
pub fn photo_png(seed: u64) -> Vec<u8> {
    let (w, h) = PHOTO_SIZE;
    let hue = (seed % 6) as u8;
    let wall: [u8; 3] = [
        [214, 230, 245],
        [238, 226, 208],
        [220, 240, 222],
        [244, 222, 230],
        [228, 224, 246],
        [236, 236, 228],
    ][usize::from(hue)];
    let mut raw = Vec::with_capacity((h * (1 + w * 3)) as usize);
    for y in 0..h {
        raw.push(0); // filter: none
        for x in 0..w {
            let px: [u8; 3] = if y >= 130 {
                // The table, with a slight grain.
                let g = ((x * 7 + y * 3) % 11) as u8;
                [150 + g, 104 + g, 62 + g / 2]
            } else if (70..=170).contains(&x) && (50..=140).contains(&y) {
                if (112..=128).contains(&x) {
                    [222, 198, 120] // the tape
                } else if y <= 58 {
                    [176, 128, 74] // the lid's edge
                } else {
                    [196, 150, 92] // the box
                }
            } else {
                // The wall, lighter towards the top.
                let shade = (y / 10) as u8;
                [
                    wall[0].saturating_sub(shade),
                    wall[1].saturating_sub(shade),
                    wall[2].saturating_sub(shade),
                ]
            };
            raw.extend_from_slice(&px);
        }
    }
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter, no interlace
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// `data` as a zlib stream of uncompressed deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_is_a_png_of_its_size_and_seeds_differ() {
        let p = photo_png(1);
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&p[12..16], b"IHDR");
        assert_eq!(
            u32::from_be_bytes([p[16], p[17], p[18], p[19]]),
            PHOTO_SIZE.0
        );
        assert_eq!(
            u32::from_be_bytes([p[20], p[21], p[22], p[23]]),
            PHOTO_SIZE.1
        );
        assert!(p.len() < 5 * 1024 * 1024);
        assert_eq!(&p[p.len() - 8..p.len() - 4], b"IEND");
        assert_ne!(photo_png(1), photo_png(2));
        // The CRC of IEND (no data) is the well-known constant.
        assert_eq!(&p[p.len() - 4..], &[0xAE, 0x42, 0x60, 0x82]);
    }
}
