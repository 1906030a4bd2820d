// A free loopback port for a test server. The kernel may hand the same ephemeral port to two
// listens in a row once the first is closed, so the answers are remembered: a server's HTTP,
// pgwire and Kafka ports must differ.
import net from "node:net";

const handedOut = new Set();

export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address();
        srv.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
