// A KubeTransport that records requests and answers from a handler: lets unit tests check how
// requests are formed and how answers are handled, without an API server.
import type { KubeTransport, TransportRequest, TransportResponse, TransportStream } from '../../../../src/runtime/kube-transport.ts';

export type Handler = (req: TransportRequest) => TransportResponse;

export class RecordingTransport implements KubeTransport {
  readonly host = '127.0.0.1:6443';
  readonly requests: TransportRequest[] = [];
  handler: Handler;
  constructor(handler: Handler) {
    this.handler = handler;
  }
  async request(req: TransportRequest): Promise<TransportResponse> {
    this.requests.push(req);
    return this.handler(req);
  }
  async stream(req: TransportRequest): Promise<TransportStream> {
    this.requests.push(req);
    const res = this.handler(req);
    const bytes = new TextEncoder().encode(res.body);
    return {
      status: res.status,
      text: async () => res.body,
      chunks: (async function* () {
        // Split mid-line to prove lines are reassembled across chunks.
        yield bytes.slice(0, 7);
        yield bytes.slice(7);
      })(),
    };
  }
  async close(): Promise<void> {}
}

export const json = (status: number, body: unknown): TransportResponse => ({ status, body: JSON.stringify(body) });
