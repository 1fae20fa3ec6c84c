// console.js — the operator console at /ui/: one page per #route, signed in with an admin key.
import { startApp } from './assets/app.js';
import { modelsPage } from './pages/models.js';
import { customersPage } from './pages/customers.js';
import { usagePage } from './pages/usage.js';
import { invoicesPage } from './pages/invoices.js';
import { gatewayPage } from './pages/gateway.js';
import { playgroundPage } from './pages/playground.js';

startApp({
  kind: 'console',
  title: 'infergate console',
  keyLabel: 'Admin key',
  keyHint: 'One of server.adminKeys, or the key the gateway printed at its first start (igadm_...).',
  pages: [
    { id: 'models', label: 'Models', render: modelsPage },
    { id: 'customers', label: 'Customers & keys', render: customersPage },
    { id: 'usage', label: 'Usage', render: usagePage },
    { id: 'invoices', label: 'Invoices', render: invoicesPage },
    { id: 'gateway', label: 'Gateway', render: gatewayPage },
    { id: 'playground', label: 'Playground', render: playgroundPage },
  ],
  whoami: () => 'operator',
});
