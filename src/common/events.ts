// The event shape every service publishes; the daemon owns the bus.
export interface EngineEvent {
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'builder';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

export type EventSink = (ev: EngineEvent) => void;

export const noEvents: EventSink = () => undefined;
