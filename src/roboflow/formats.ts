// A module of its own: the Roboflow emulator shares this list without pulling in the client.

/** The export formats Roboflow knows; any other is an `InvalidArgumentError` before a request is sent. */
export const EXPORT_FORMATS = [
  "coco",
  "yolov5",
  "yolov7",
  "yolov8",
  "yolov9",
  "yolov11",
  "voc",
  "createml",
  "tfrecord",
  "darknet",
  "multiclass",
  "clip",
  "png-mask-semantic",
] as const;

/** One of `EXPORT_FORMATS`. */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
