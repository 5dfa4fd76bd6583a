/** A free TCP port on 127.0.0.1, for servers that cannot be told `--port 0` (their URLs must name the port). */
export async function freeLoopbackPort(): Promise<number> {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}
