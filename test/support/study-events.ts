import { type Bus, names, type StudyEvent } from '@vicinal/bus';

/** Every progress event stored in the events stream, in order. */
export async function storedEvents(bus: Bus): Promise<StudyEvent[]> {
  const events: StudyEvent[] = [];
  const stream = await bus.jsm.streams.get(names.eventsStream);
  for (let seq = 1; ; seq++) {
    const msg = await stream.getMessage({ seq }).catch(() => null);
    if (!msg) return events;
    events.push(msg.json<StudyEvent>());
  }
}
