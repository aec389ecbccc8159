// Draws the add-on's icon.png (128x128) and logo.png (250x100) from simple
// shapes: a battery with a lightning bolt, and the name in stroked capitals.
// Run it with `node addon/tools/make-icons.mjs` to rewrite both files in addon/.
import { Buffer } from "node:buffer";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";

const SLATE_DARK = [15, 23, 42, 255];
const SLATE_MID = [30, 41, 59, 255];
const WHITE = [248, 250, 252, 255];
const AMBER = [245, 158, 11, 255];
const TEXT = [100, 116, 139, 255];

/** Returns the signed distance from (x, y) to a rounded rectangle, negative inside it. */
function roundedRect(x, y, left, top, width, height, radius) {
  const cx = left + width / 2;
  const cy = top + height / 2;
  const qx = Math.abs(x - cx) - width / 2 + radius;
  const qy = Math.abs(y - cy) - height / 2 + radius;
  const outside = Math.hypot(Math.max(qx, 0), Math.max(qy, 0));
  return outside + Math.min(Math.max(qx, qy), 0) - radius;
}

/** Returns the distance from (x, y) to the segment a-b. */
function segmentDistance(x, y, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(
    0,
    Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)),
  );
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy));
}

/** Returns the distance from (x, y) to an arc. Angles are in degrees, counter-clockwise, with y down. */
function arcDistance(x, y, cx, cy, radius, fromDeg, toDeg) {
  const steps = 48;
  let best = Infinity;
  let previous;
  for (let i = 0; i <= steps; i += 1) {
    const angle = ((fromDeg + ((toDeg - fromDeg) * i) / steps) * Math.PI) / 180;
    const point = [
      cx + radius * Math.cos(angle),
      cy - radius * Math.sin(angle),
    ];
    if (previous !== undefined) {
      best = Math.min(
        best,
        segmentDistance(x, y, previous[0], previous[1], point[0], point[1]),
      );
    }
    previous = point;
  }
  return best;
}

/** Tests whether (x, y) lies inside the polygon, by the even-odd rule. */
function insidePolygon(x, y, points) {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i, i += 1) {
    const [xi, yi] = points[i];
    const [xj, yj] = points[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) {
      inside = !inside;
    }
  }
  return inside;
}

/** Renders `layers` (each a colour and an inside test) with 4x4 supersampling. */
function render(width, height, layers) {
  const pixels = Buffer.alloc(width * height * 4);
  const grid = 4;
  for (let py = 0; py < height; py += 1) {
    for (let px = 0; px < width; px += 1) {
      const sum = [0, 0, 0, 0];
      for (let sy = 0; sy < grid; sy += 1) {
        for (let sx = 0; sx < grid; sx += 1) {
          const x = px + (sx + 0.5) / grid;
          const y = py + (sy + 0.5) / grid;
          let colour = [0, 0, 0, 0];
          for (const layer of layers) {
            if (layer.inside(x, y)) {
              colour =
                typeof layer.colour === "function"
                  ? layer.colour(x, y)
                  : layer.colour;
            }
          }
          const alpha = colour[3] / 255;
          sum[0] += colour[0] * alpha;
          sum[1] += colour[1] * alpha;
          sum[2] += colour[2] * alpha;
          sum[3] += alpha;
        }
      }
      const offset = (py * width + px) * 4;
      const coverage = sum[3];
      pixels[offset] = coverage === 0 ? 0 : Math.round(sum[0] / coverage);
      pixels[offset + 1] = coverage === 0 ? 0 : Math.round(sum[1] / coverage);
      pixels[offset + 2] = coverage === 0 ? 0 : Math.round(sum[2] / coverage);
      pixels[offset + 3] = Math.round((coverage / (grid * grid)) * 255);
    }
  }
  return pixels;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** Encodes RGBA pixels as a PNG (colour type 6, 8 bits, no filtering). */
function encodePng(width, height, pixels) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 6;
  const rows = Buffer.alloc(height * (width * 4 + 1));
  for (let y = 0; y < height; y += 1) {
    pixels.copy(
      rows,
      y * (width * 4 + 1) + 1,
      y * width * 4,
      (y + 1) * width * 4,
    );
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/**
 * Builds the layers of the mark, a battery with an amber bolt, in a square of
 * `size` pixels with its top-left corner at (left, top). `background` adds the dark tile.
 */
function markLayers(left, top, size, background) {
  const s = size / 128;
  const X = (value) => left + value * s;
  const Y = (value) => top + value * s;
  const layers = [];
  if (background) {
    layers.push({
      inside: (x, y) =>
        roundedRect(x, y, X(0), Y(0), 128 * s, 128 * s, 26 * s) <= 0,
      colour: (_x, y) => {
        const t = (y - Y(0)) / (128 * s);
        return SLATE_MID.map((value, i) =>
          Math.round(value + (SLATE_DARK[i] - value) * t),
        );
      },
    });
  }
  const body = {
    left: X(38),
    top: Y(30),
    width: 52 * s,
    height: 80 * s,
    radius: 10 * s,
  };
  const wall = 7 * s;
  layers.push(
    {
      inside: (x, y) =>
        roundedRect(x, y, X(54), Y(18), 20 * s, 14 * s, 4 * s) <= 0,
      colour: WHITE,
    },
    {
      inside: (x, y) =>
        roundedRect(
          x,
          y,
          body.left,
          body.top,
          body.width,
          body.height,
          body.radius,
        ) <= 0,
      colour: WHITE,
    },
    {
      inside: (x, y) =>
        roundedRect(
          x,
          y,
          body.left + wall,
          body.top + wall,
          body.width - 2 * wall,
          body.height - 2 * wall,
          body.radius - wall / 2,
        ) <= 0,
      colour: background ? SLATE_DARK : [0, 0, 0, 0],
    },
  );
  const bolt = [
    [70, 42],
    [50, 74],
    [63, 74],
    [58, 98],
    [78, 64],
    [65, 64],
  ].map(([x, y]) => [X(x), Y(y)]);
  layers.push({ inside: (x, y) => insidePolygon(x, y, bolt), colour: AMBER });
  return layers;
}

/** Stroked capitals on a unit box (x right, y down), 0.72 wide by 1 high. */
const GLYPHS = {
  T: [{ line: [0, 0, 0.72, 0] }, { line: [0.36, 0, 0.36, 1] }],
  E: [
    { line: [0, 0, 0, 1] },
    { line: [0, 0, 0.66, 0] },
    { line: [0, 0.5, 0.56, 0.5] },
    { line: [0, 1, 0.66, 1] },
  ],
  S: [
    { arc: [0.36, 0.25, 0.25, 25, 270] },
    { arc: [0.36, 0.75, 0.25, 90, -155] },
  ],
  L: [{ line: [0, 0, 0, 1] }, { line: [0, 1, 0.62, 1] }],
  A: [
    { line: [0, 1, 0.36, 0] },
    { line: [0.36, 0, 0.72, 1] },
    { line: [0.14, 0.62, 0.58, 0.62] },
  ],
  Y: [
    { line: [0, 0, 0.36, 0.5] },
    { line: [0.72, 0, 0.36, 0.5] },
    { line: [0.36, 0.5, 0.36, 1] },
  ],
  N: [
    { line: [0, 1, 0, 0] },
    { line: [0, 0, 0.72, 1] },
    { line: [0.72, 1, 0.72, 0] },
  ],
  C: [{ arc: [0.5, 0.5, 0.5, 50, 310] }],
};

/** Builds the layers that draw `text` with its top-left at (left, top) and cap height `height`. */
function textLayers(text, left, top, height, stroke, colour) {
  const layers = [];
  let cursor = left;
  for (const letter of text) {
    const glyph = GLYPHS[letter];
    const originX = cursor;
    for (const part of glyph) {
      if (part.line !== undefined) {
        const [ax, ay, bx, by] = part.line;
        layers.push({
          inside: (x, y) =>
            segmentDistance(
              x,
              y,
              originX + ax * height,
              top + ay * height,
              originX + bx * height,
              top + by * height,
            ) <=
            stroke / 2,
          colour,
        });
      } else {
        const [cx, cy, radius, from, to] = part.arc;
        const squeeze = letter === "C" ? 0.72 : 1;
        layers.push({
          inside: (x, y) =>
            arcDistance(
              originX + (x - originX) / squeeze,
              y,
              originX + cx * height,
              top + cy * height,
              radius * height,
              from,
              to,
            ) <=
            stroke / 2,
          colour,
        });
      }
    }
    cursor += 0.72 * height + stroke * 1.6;
  }
  return layers;
}

const outputDir = join(dirname(fileURLToPath(import.meta.url)), "..");

const icon = render(128, 128, markLayers(0, 0, 128, true));
writeFileSync(join(outputDir, "icon.png"), encodePng(128, 128, icon));

const logo = render(250, 100, [
  ...markLayers(4, 6, 88, true),
  ...textLayers("TESLA", 108, 18, 26, 5, TEXT),
  ...textLayers("SYNC", 108, 56, 26, 5, AMBER),
]);
writeFileSync(join(outputDir, "logo.png"), encodePng(250, 100, logo));
