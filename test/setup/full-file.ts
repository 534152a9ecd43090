// Runs in every full-mode test file: the file's namespaces go when it ends (its own afterAll
// hooks run first), so one file's fleets never hold the GPUs or objects the next file needs.
import { afterAll } from 'vitest';
import { deleteCreatedNamespaces } from '../support/cluster.ts';

afterAll(async () => {
  await deleteCreatedNamespaces();
}, 90_000);
