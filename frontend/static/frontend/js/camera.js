// Webcam capture: preview, then a steady 1-2 frames/s, each resized to <= 640x480 JPEG.

const MAX_W = 640, MAX_H = 480;

// Draw a video or image source onto a canvas no larger than 640x480 and encode it as JPEG.
export function toJpeg(source, width, height, quality = 0.85) {
  const scale = Math.min(1, MAX_W / width, MAX_H / height);
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("could not encode frame"))),
      "image/jpeg", quality);
  });
}

// Decode an uploaded photo file and re-encode it resized (big phone photos become small).
export async function photoToJpeg(file) {
  const bitmap = await createImageBitmap(file);
  try {
    return await toJpeg(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

export class Camera {
  // upload(blob, capturedAtIso) -> Promise; called at most once at a time (no pile-up).
  constructor(video, upload, { intervalMs = 700 } = {}) {
    this.video = video;
    this.upload = upload;
    this.intervalMs = intervalMs;
    this.stream = null;
    this.timer = null;
    this.busy = false;
    this.sent = 0;
  }

  get on() { return this.stream !== null; }

  async start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("this browser cannot use a camera here (it needs HTTPS or localhost)");
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
    });
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => {});
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.video.srcObject = null;
  }

  async tick() {
    const v = this.video;
    if (this.busy || !this.stream || v.readyState < 2 || !v.videoWidth) return;
    this.busy = true;
    try {
      const capturedAt = new Date().toISOString();
      const blob = await toJpeg(v, v.videoWidth, v.videoHeight);
      if (this.stream) {
        await this.upload(blob, capturedAt);
        this.sent += 1;
      }
    } finally {
      this.busy = false;
    }
  }
}
