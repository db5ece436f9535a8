/**
 * `convert` (logical ↔ MQTT topic form) memoised for up to `max` distinct topics: it runs for every
 * message (thousands per second) over a few dozen topics; the bound keeps odd topics from growing it.
 */
export function memoTopicForm(convert: (topic: string) => string, max: number): (topic: string) => string {
  const seen = new Map<string, string>();
  return (topic) => {
    let form = seen.get(topic);
    if (form === undefined) {
      form = convert(topic);
      if (seen.size < max) seen.set(topic, form);
    }
    return form;
  };
}
