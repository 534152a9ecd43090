// The pure parts of the Traefik add-on: its command line and how a start is known to be ours.
import { describe, expect, it } from 'vitest';
import { listeningInodes } from '../../../scripts/cluster/addons.ts';
import { traefikArgs, traefikGateway } from '../../../scripts/cluster/traefik.ts';

describe('traefikArgs', () => {
  const args = traefikArgs({ address: '10.250.253.30', port: 80, logLevel: 'INFO', accessLog: false });

  it('binds every entry point to the add-on address only', () => {
    // An entry point on all addresses would take that port from every pod IP of the netns.
    const addresses = args.filter((a) => /^--entryPoints\.\w+\.address=/.test(a)).map((a) => a.split('=')[1]);
    expect(addresses).toEqual(['10.250.253.30:80', '10.250.253.30:9000']);
  });

  it('runs the Gateway provider, reports the address in Gateway status, and never calls home', () => {
    expect(args).toEqual(expect.arrayContaining(['--providers.kubernetesGateway=true', '--providers.kubernetesGateway.statusAddress.ip=10.250.253.30', '--global.checkNewVersion=false', '--global.sendAnonymousUsage=false']));
    // Traefik's own timeouts stay at their defaults: what a user's install does.
    expect(args.some((a) => a.includes('respondingTimeouts'))).toBe(false);
  });

  it('matches the listener port to the entry point (Traefik pairs them by port)', () => {
    const [, gateway] = traefikGateway({ className: 'traefik-30', namespace: 'traefik', name: 'gateway', port: 80 });
    expect((gateway as unknown as { spec: { listeners: Array<{ port: number; allowedRoutes: unknown }> } }).spec.listeners).toEqual([
      { name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'All' } } },
    ]);
  });
});

describe('listeningInodes', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 807457 2 0 100 0 0 10 0',
    '   1: 1EFDFA0A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 825574 1 0 100 0 0 10 0',
    '   2: 1EFDFA0A:0050 0101FA0A:C350 01 00000000:00000000 00:00000000 00000000     0        0 825999 1 0 100 0 0 10 0',
  ].join('\n');

  it('finds the socket listening on an address and port, not connections on it', () => {
    expect(listeningInodes(table, '10.250.253.30', 80)).toEqual(['825574']);
    expect(listeningInodes(table, '127.0.0.1', 6443)).toEqual(['807457']);
    expect(listeningInodes(table, '10.250.253.31', 80)).toEqual([]);
  });
});
