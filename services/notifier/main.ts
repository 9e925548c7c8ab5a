import { runService } from '../../shared/runtime/bootstrap.js';
import { startNotifier } from './service.js';

await runService('notifier', {}, (rt) => startNotifier(rt));
