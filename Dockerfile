# One image for the API (`npm start`) and the workers (`npm run worker`); TypeScript runs through tsx.
FROM node:20-slim

ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/data \
    OUTPUT_DIR=/data/outputs

WORKDIR /app

# Dependencies first, so code changes do not invalidate this layer. tsx is a runtime dependency.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src
COPY processes ./processes
COPY schemas ./schemas
COPY bin ./bin

RUN mkdir -p /data/outputs && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080

CMD ["npm", "start"]
