// Counting the bytes of a stream as they pass (cp and build report sizes sent).

/** Yields src unchanged, adding each chunk's length to counter.n. */
export async function* counting(src: AsyncIterable<Buffer>, counter: { n: number }): AsyncGenerator<Buffer> {
  for await (const c of src) {
    counter.n += c.length;
    yield c;
  }
}
