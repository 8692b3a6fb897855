/**
 * A TCP proxy the test controls, standing in for the network route between
 * the manager and a master (after pg-boss's halfOpenProxy). cut() drops every
 * connection and black-holes new ones: they are accepted but never answered,
 * as through a dropped route. restore() forwards again.
 */
import net from 'node:net';

export class TcpProxy {
  readonly server: net.Server;
  #cut = false;
  #sockets = new Set<net.Socket>();

  constructor(readonly listenHost: string, readonly listenPort: number, readonly toHost: string, readonly toPort: number) {
    this.server = net.createServer((client) => {
      this.#sockets.add(client);
      client.on('close', () => this.#sockets.delete(client));
      client.on('error', () => undefined);
      if (this.#cut) return; // black hole: accepted, never answered
      const upstream = net.connect(this.toPort, this.toHost);
      this.#sockets.add(upstream);
      upstream.on('close', () => {
        this.#sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.listenPort, this.listenHost, () => resolve());
    });
  }

  cut(): void {
    this.#cut = true;
    for (const s of this.#sockets) s.destroy();
  }

  restore(): void {
    this.#cut = false;
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
