/**
 * Owned copies of payloads, carved out of shared slabs. Copying each
 * payload into its own Buffer costs an ArrayBuffer per few messages (Node's
 * pool is 8 KiB) and most of the publish path's GC time; a slab of 256 KiB
 * holds a few hundred 1 KiB payloads. A slab lives while any payload in it
 * does, which suits FIFO queues: neighbours are published and consumed
 * together. Large payloads get a buffer of their own.
 */
const SLAB_BYTES = 256 * 1024;
const OWN_BUFFER_OVER = 16 * 1024;

/** Uninitialised memory: every byte is overwritten by a copy before it is read. */
function newSlab(): ArrayBuffer {
  return Buffer.allocUnsafeSlow(SLAB_BYTES).buffer as ArrayBuffer;
}

export class PayloadArena {
  private slab = newSlab();
  private bytes = new Uint8Array(this.slab);
  private used = 0;

  copy(src: Uint8Array): Uint8Array {
    const n = src.length;
    if (n > OWN_BUFFER_OVER) {
      const own = Buffer.allocUnsafeSlow(n);
      own.set(src);
      return own;
    }
    if (this.used + n > SLAB_BYTES) {
      this.slab = newSlab();
      this.bytes = new Uint8Array(this.slab);
      this.used = 0;
    }
    const start = this.used;
    this.bytes.set(src, start);
    // 8-byte alignment keeps typed-array views of a payload cheap.
    this.used = (start + n + 7) & ~7;
    return new Uint8Array(this.slab, start, n);
  }
}
