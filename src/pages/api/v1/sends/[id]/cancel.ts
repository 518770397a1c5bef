import { commandRoute } from './_command.ts';

export const POST = commandRoute('cancel');
