/**
 * A TCP proxy the test controls, standing in for the network route between
 * the manager and a master (after pg-boss's halfOpenProxy). cut() drops every
 * connection and black-holes new ones: they are accepted but never answered,
 * as through a dropped route. restore() forwards again.
 * hold() is a cut the server does not see: nothing passes either way any
 * more, but the server side of each connection stays open, as a master keeps
 * a session whose client's FIN is stuck behind an unacknowledged
 * retransmission on a dropped return route. restore() forwards new
 * connections again; the held server sides stay open until release().
 */
import net from 'node:net';

export class TcpProxy {
  readonly server: net.Server;
  #cut = false;
  #sockets = new Set<net.Socket>();
  #pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  #held = new Set<net.Socket>();

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
      const pair = { client, upstream };
      this.#pairs.add(pair);
      client.on('close', () => {
        this.#pairs.delete(pair);
        if (!this.#held.has(upstream)) upstream.destroy();
      });
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

  hold(): void {
    this.#cut = true;
    for (const { client, upstream } of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
      this.#held.add(upstream);
    }
  }

  /** The held server sides learn that their clients are gone (the retransmission got through). */
  release(): void {
    for (const s of this.#held) s.destroy();
    this.#held.clear();
  }

  restore(): void {
    this.#cut = false;
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
